// Package droptest is the conformance suite every transport of bundle
// files runs from its tests: one set of checks of the guarantees the engine
// relies on (what a listing returns and refuses, downloads bounded by the
// listing, uploads published atomically under their final name, an ended
// context starting nothing), run against real folders on disk.
package droptest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sealpost/sealpost/exchange/drop"
)

// Transport is the method set of the engine's transport interface
// (exchange.Transport), declared here so that this package need not import
// the engine: every transport satisfies both.
type Transport interface {
	List(ctx context.Context, dir string) ([]drop.Entry, []drop.Skipped, error)
	DownloadListed(ctx context.Context, dir string, ent drop.Entry, w io.Writer) (int64, error)
	Create(ctx context.Context, dir, name string) (drop.Upload, error)
	Stat(ctx context.Context, path string) (fs.FileInfo, error)
	Remove(ctx context.Context, path string) error
	Rename(ctx context.Context, oldpath, newpath string) error
	Address() string
	HostKey() string
	Close() error
}

// Open returns a transport to a fresh, empty drop and the folder on disk
// behind it: the suite's relative paths ("pull", "pull/a.pgp") name the
// same folders and files for the transport and below root on disk. The
// transport is closed by the suite.
type Open func(t *testing.T) (tr Transport, root string)

// Run runs the conformance suite against the transport open returns, a
// fresh one for each test.
func Run(t *testing.T, open Open) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, w world)
	}{
		{"List", testList},
		{"Download", testDownload},
		{"Changed", testChanged},
		{"Publish", testPublish},
		{"CommitChecksTheSize", testCommitSize},
		{"ExistingFinalName", testExistingFinal},
		{"Abort", testAbort},
		{"CreateAfresh", testCreateAfresh},
		{"UnsafeNames", testUnsafeNames},
		{"EndedContext", testEndedContext},
		{"StatRemoveRename", testStatRemoveRename},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, root := open(t)
			t.Cleanup(func() { tr.Close() })
			tc.fn(t, world{t: t, tr: tr, root: root})
		})
	}
}

// world is one test's transport and the folder behind it.
type world struct {
	t    *testing.T
	tr   Transport
	root string
}

// disk returns the on-disk path of the slash-separated drop path p.
func (w world) disk(p string) string { return filepath.Join(w.root, filepath.FromSlash(p)) }

// mkdir creates folders on disk.
func (w world) mkdir(dirs ...string) {
	w.t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(w.disk(d), 0o755); err != nil {
			w.t.Fatal(err)
		}
	}
}

// write puts a file on disk.
func (w world) write(p string, data []byte) {
	w.t.Helper()
	if err := os.WriteFile(w.disk(p), data, 0o644); err != nil {
		w.t.Fatal(err)
	}
}

// read returns a file's content on disk.
func (w world) read(p string) []byte {
	w.t.Helper()
	b, err := os.ReadFile(w.disk(p))
	if err != nil {
		w.t.Fatal(err)
	}
	return b
}

// missing fails the test unless nothing is at p on disk.
func (w world) missing(p string) {
	w.t.Helper()
	if _, err := os.Lstat(w.disk(p)); !errors.Is(err, fs.ErrNotExist) {
		w.t.Errorf("%s exists on disk (%v), want nothing there", p, err)
	}
}

// names returns the names in folder dir on disk.
func (w world) names(dir string) []string {
	w.t.Helper()
	ents, err := os.ReadDir(w.disk(dir))
	if err != nil {
		w.t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// list lists dir and fails the test on an error.
func (w world) list(dir string) ([]drop.Entry, []drop.Skipped) {
	w.t.Helper()
	entries, skipped, err := w.tr.List(context.Background(), dir)
	if err != nil {
		w.t.Fatalf("List %s: %v", dir, err)
	}
	return entries, skipped
}

// listed returns the entry List gives for dir/name.
func (w world) listed(dir, name string) drop.Entry {
	w.t.Helper()
	entries, _ := w.list(dir)
	for _, e := range entries {
		if e.Name == name {
			return e
		}
	}
	w.t.Fatalf("List %s does not return %s: %+v", dir, name, entries)
	return drop.Entry{}
}

// upload writes data to dir/name through the transport and commits it.
func (w world) upload(dir, name string, data []byte) error {
	w.t.Helper()
	u, err := w.tr.Create(context.Background(), dir, name)
	if err != nil {
		return err
	}
	if _, err := u.Write(data); err != nil {
		u.Abort(context.Background())
		return err
	}
	if err := u.Commit(context.Background(), int64(len(data))); err != nil {
		u.Abort(context.Background())
		return err
	}
	return nil
}

// randomBytes returns n random bytes.
func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// sameSecond reports whether a and b fall in the same second (SFTP
// version 3 gives times in whole seconds).
func sameSecond(a, b time.Time) bool { return a.Unix() == b.Unix() }

// contains reports whether b holds needle.
func contains(b, needle []byte) bool { return bytes.Contains(b, needle) }
