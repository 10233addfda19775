package sftpd

import (
	"fmt"
	"io"
	"io/fs"
	"sync/atomic"
	"time"
)

// lies are the ways a lying server misbehaves (see WithEndlessFile and
// WithLongListing), and what it served while doing so.
type lies struct {
	endless     string // base name of a file whose reads never end
	endlessSize int64  // the size listed for it
	longListing int64  // entries added to every listing; < 0 without end
	dots        bool   // after the real entries, "." and ".." without end
	listed      atomic.Int64
	// lostRenames is how many more renames are carried out and then
	// answered by closing every connection (see WithLostRenameReplies);
	// dropConns closes them.
	lostRenames atomic.Int64
	dropConns   func()
}

// WithEndlessFile makes the server lie about a file: every folder listing
// (and stat of <folder>/name) shows name as a regular file of size bytes,
// and reading it returns bytes without end, whatever the offset.
func WithEndlessFile(name string, size int64) Option {
	return func(o *options) { o.lies.endless, o.lies.endlessSize = name, size }
}

// WithLongListing adds n hidden entries (".junk-000000001", ...) to every
// folder listing, after the real ones, made as they are asked for; n < 0
// never ends the listing. Server.Listed counts the entries served.
func WithLongListing(n int64) Option {
	return func(o *options) { o.lies.longListing = n }
}

// WithEndlessDots makes every folder listing go on, after the real
// entries, with "." and ".." entries without end.
func WithEndlessDots() Option {
	return func(o *options) { o.lies.dots = true }
}

// WithLostRenameReplies makes the first n renames (plain or posix) that
// succeed lose their reply: the server carries the rename out, then closes
// every connection before answering, as a connection cut at that moment
// would.
func WithLostRenameReplies(n int64) Option {
	return func(o *options) { o.lies.lostRenames.Store(n) }
}

// afterRename loses the reply of a rename that succeeded, while
// lostRenames lasts.
func (l *lies) afterRename(err error) error {
	if err == nil && l.lostRenames.Add(-1) >= 0 {
		l.dropConns()
	}
	return err
}

// Listed returns how many folder entries the server has sent in all.
func (s *Server) Listed() int64 { return s.fsys.lies.listed.Load() }

// isEndless reports whether base is the endless file.
func (l *lies) isEndless(base string) bool { return l.endless != "" && base == l.endless }

// endlessInfo describes the endless file as listed.
func (l *lies) endlessInfo() fs.FileInfo { return sizedFile{l.endless, l.endlessSize} }

// endlessReader returns 'x' at every offset.
type endlessReader struct{}

// ReadAt fills p.
func (endlessReader) ReadAt(p []byte, _ int64) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

// sizedFile is a listed regular file that does not exist.
type sizedFile struct {
	name string
	size int64
}

func (f sizedFile) Name() string       { return f.name }
func (f sizedFile) Size() int64        { return f.size }
func (f sizedFile) Mode() fs.FileMode  { return 0o644 }
func (f sizedFile) ModTime() time.Time { return time.Unix(1_800_000_000, 0) }
func (f sizedFile) IsDir() bool        { return false }
func (f sizedFile) Sys() any           { return nil }

// lyingLister serves the real entries, then the made-up ones.
type lyingLister struct {
	real lister
	lies *lies
}

// ListAt copies entries from offset into ls, counting them.
func (l lyingLister) ListAt(ls []fs.FileInfo, offset int64) (int, error) {
	n := 0
	for n < len(ls) {
		i := offset + int64(n)
		switch {
		case i < int64(len(l.real)):
			ls[n] = l.real[i]
		case l.lies.dots:
			ls[n] = sizedFile{[]string{".", ".."}[i%2], 0}
		case l.lies.longListing < 0 || i-int64(len(l.real)) < l.lies.longListing:
			ls[n] = sizedFile{fmt.Sprintf(".junk-%09d", i-int64(len(l.real))+1), 1}
		default:
			l.lies.listed.Add(int64(n))
			return n, io.EOF
		}
		n++
	}
	l.lies.listed.Add(int64(n))
	return n, nil
}
