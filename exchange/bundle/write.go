package bundle

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/sealpost/sealpost/internal/safeopen"
)

// copyBufferSize is the buffer Write and Read copy file data through.
const copyBufferSize = 1 << 20

// Tar modes written; Read ignores the modes it finds.
const (
	fileMode = 0o644
	dirMode  = 0o755
)

// Write writes the bundle for m as a tar stream to dst, in one pass over the
// data: a payload/ folder entry (when there are sources), then each Source (a file, or a folder walked
// in lexical order with its folders as entries), hashing each file while it
// is copied, then manifest.json LAST with m.Files filled in.
//
// Symbolic links, hard-linked files, special files (at any depth, judged on
// the open descriptor) and names a bundle cannot carry are refused with an
// error wrapping ErrUnsafeSource that names the path; links are never
// followed. A file whose size changes while it is read is an error. m.Created
// is set to UTC whole seconds; an invalid manifest is refused (ErrManifest),
// as is a receipt with sources and a request or response without files.
// The tar is uncompressed USTAR (PAX where names or sizes need it): modes
// 0644/0755, uid/gid 0, no user names, every mtime m.Created.
// m.Files is filled in on return. On error dst holds a partial tar.
func Write(dst io.Writer, m *Manifest, srcs []Source) error {
	m.Created = m.Created.UTC().Truncate(time.Second)
	if err := m.validateHeader(); err != nil {
		return fmt.Errorf("manifest: %v: %w", err, ErrManifest)
	}
	w := &writer{
		tw:    tar.NewWriter(dst),
		mtime: m.Created,
		names: newNameSet(),
		files: []File{},
	}
	if len(srcs) > 0 {
		if err := w.dir(payloadDir, payloadDir); err != nil {
			return err
		}
	}
	for _, src := range srcs {
		if err := w.source(src); err != nil {
			return err
		}
	}
	m.Files = w.files
	if err := m.validateFiles(); err != nil {
		return fmt.Errorf("manifest: %v: %w", err, ErrManifest)
	}
	return w.manifest(m)
}

// writer is the state of one Write.
type writer struct {
	tw    *tar.Writer
	mtime time.Time
	names *nameSet
	buf   []byte
	files []File
}

// source writes one Source: a regular file, or a folder and everything under
// it, each entry judged on its open descriptor (safeopen.Walk): a link, a
// hard-linked file or a special file at any depth refuses the whole source.
func (w *writer) source(src Source) error {
	if err := checkSourceName(src.Path, src.Name); err != nil {
		return err
	}
	name := payloadDir + "/" + src.Name
	err := safeopen.Walk(src.Path, func(rel string, f *os.File, fi fs.FileInfo) error {
		entry, path := name, src.Path
		if rel != "." {
			entry += "/" + rel
			path = filepath.Join(src.Path, filepath.FromSlash(rel))
		}
		if f == nil {
			return w.dir(path, entry)
		}
		return w.file(path, entry, f, fi)
	})
	return unsafeSource(err)
}

// claim checks that name can be carried and does not collide with an earlier one.
func (w *writer) claim(path, name string, dir bool) error {
	if err := checkPath(name); err != nil {
		return fmt.Errorf("%s: its name in the bundle %q %v: %w", path, name, err, ErrUnsafeSource)
	}
	add := w.names.add
	if dir {
		add = w.names.addDir
	}
	if err := add(name); err != nil {
		return fmt.Errorf("%s: its name in the bundle: %v: %w", path, err, ErrUnsafeSource)
	}
	return nil
}

// dir writes a folder entry.
func (w *writer) dir(path, name string) error {
	if err := w.claim(path, name, true); err != nil {
		return err
	}
	hdr := &tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: dirMode, ModTime: w.mtime}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("writing the bundle entry for %s: %w", path, err)
	}
	return nil
}

// file writes a file entry from f, open and checked, whose fstat is fi,
// hashing the data as it is copied.
func (w *writer) file(path, name string, f *os.File, fi fs.FileInfo) error {
	if err := w.claim(path, name, false); err != nil {
		return err
	}
	size := fi.Size()
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: fileMode, ModTime: w.mtime}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("writing the bundle entry for %s: %w", path, err)
	}
	h := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(w.tw, h), io.LimitReader(f, size), w.buffer(size))
	if err != nil {
		return fmt.Errorf("copying %s into the bundle: %w", path, err)
	}
	if n < size {
		return fmt.Errorf("%s shrank from %d to %d bytes while it was read", path, size, n)
	}
	if k, err := f.Read(w.buf[:1]); k > 0 {
		return fmt.Errorf("%s grew beyond %d bytes while it was read", path, size)
	} else if err != nil && err != io.EOF {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	w.files = append(w.files, File{Path: name, Size: size, SHA256: hex.EncodeToString(h.Sum(nil))})
	return nil
}

// buffer returns the copy buffer for a file of size bytes, grown as the
// files need up to copyBufferSize: a bundle of small files never makes a
// large one.
func (w *writer) buffer(size int64) []byte {
	if n := int(min(max(size, 1), copyBufferSize)); len(w.buf) < n {
		w.buf = make([]byte, n)
	}
	return w.buf
}

// manifest writes manifest.json and ends the tar.
func (w *writer) manifest(m *Manifest) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding manifest.json: %w", err)
	}
	data = append(data, '\n')
	if len(data) > MaxManifestSize {
		return fmt.Errorf("manifest.json would be %d bytes, more than %d: %w", len(data), MaxManifestSize, ErrLimits)
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: manifestName, Size: int64(len(data)), Mode: fileMode, ModTime: w.mtime}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("writing manifest.json: %w", err)
	}
	if _, err := w.tw.Write(data); err != nil {
		return fmt.Errorf("writing manifest.json: %w", err)
	}
	if err := w.tw.Close(); err != nil {
		return fmt.Errorf("ending the bundle tar: %w", err)
	}
	return nil
}
