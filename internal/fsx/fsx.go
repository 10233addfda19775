// Package fsx holds the few file-system steps that every crash-safe write in
// sealpost is made of: write under a temporary name, fsync, rename, fsync the
// folder.
package fsx

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// SyncDir fsyncs the folder dir so that a rename or create inside it is
// durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return nil
}

// Rename renames oldpath to newpath and fsyncs the folders of both.
func Rename(oldpath, newpath string) error {
	if err := os.Rename(oldpath, newpath); err != nil {
		return err
	}
	if err := SyncDir(filepath.Dir(newpath)); err != nil {
		return err
	}
	if od := filepath.Dir(oldpath); od != filepath.Dir(newpath) {
		return SyncDir(od)
	}
	return nil
}

// WriteFile writes data to path atomically: a temporary file beside it,
// fsynced, renamed over path, folder fsynced. perm is applied exactly,
// whatever the umask. Whatever is at path (a file, a symbolic link) is
// replaced, never written through.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	f, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	return f.Commit()
}

// WriteFileNew is WriteFile for a file that must not exist yet (a new key):
// if anything is at path, even a dangling symbolic link, it fails with an
// error wrapping fs.ErrExist and leaves path as it is.
func WriteFileNew(path string, data []byte, perm os.FileMode) error {
	f, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	return f.CommitNew()
}

// writeTemp writes data to a new temporary file for path.
func writeTemp(path string, data []byte, perm os.FileMode) (*File, error) {
	f, err := CreateTemp(path, perm)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(data); err != nil {
		f.Abort()
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return f, nil
}

// File is a file being written under a temporary name; Commit makes it
// appear under its final name, Abort removes it.
type File struct {
	*os.File
	final            string
	written, flushed int64 // bytes written, and handed to writeback
}

// tempTries bounds the random names CreateTemp tries before giving up.
const tempTries = 16

// tempSuffix returns the random part of a temporary name; tests replace it
// to plant files at the names it will give.
var tempSuffix = func() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// maxTempBase bounds the part of the final name kept in a temporary name, so
// that the name stays within the 255 bytes a folder entry may have.
const maxTempBase = 200

// CreateTemp creates a hidden temporary file beside path
// (".<name>.<random>.tmp") with mode perm, whatever the umask. The name is
// unpredictable and the file is created new (O_CREATE|O_EXCL|O_NOFOLLOW,
// 0600 until it is set to perm): a file or symbolic link planted in the
// folder is never opened or written through. Nothing appears under path
// until Commit.
func CreateTemp(path string, perm os.FileMode) (*File, error) {
	base := filepath.Base(path)
	if len(base) > maxTempBase {
		base = base[:maxTempBase]
	}
	for range tempTries {
		tmp := filepath.Join(filepath.Dir(path), "."+base+"."+tempSuffix()+".tmp")
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := f.Chmod(perm); err != nil {
			f.Close()
			os.Remove(tmp)
			return nil, err
		}
		return &File{File: f, final: path}, nil
	}
	return nil, fmt.Errorf("create a temporary file beside %s: %d random names were all taken", path, tempTries)
}

// Commit fsyncs and closes the file, then renames it to its final name
// (replacing what is there, a symbolic link included, without following
// it) and fsyncs the folder.
func (f *File) Commit() error {
	if err := f.finish(); err != nil {
		return err
	}
	if err := Rename(f.Name(), f.final); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("rename into %s: %w", f.final, err)
	}
	return nil
}

// CommitNew is Commit for a final name that must not exist: it links the
// file under its final name, which fails (wrapping fs.ErrExist) when
// anything is there, even a dangling symbolic link, then removes the
// temporary name and fsyncs the folder.
func (f *File) CommitNew() error {
	if err := f.finish(); err != nil {
		return err
	}
	err := os.Link(f.Name(), f.final)
	os.Remove(f.Name())
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s exists already; refusing to replace it: %w", f.final, fs.ErrExist)
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", f.final, err)
	}
	return SyncDir(filepath.Dir(f.final))
}

// finish fsyncs and closes the file, removing it on failure.
func (f *File) finish() error {
	if err := f.Sync(); err != nil {
		f.Abort()
		return fmt.Errorf("sync %s: %w", f.final, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("close %s: %w", f.final, err)
	}
	return nil
}

// writebackEvery is how much a File writes before it asks the kernel to
// start writing it to disk: a large file then streams to disk while it is
// made, instead of all at once in Commit's fsync.
const writebackEvery = 8 << 20

// Write writes p, starting the disk writeback of every full
// writebackEvery bytes written.
func (f *File) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	f.written += int64(n)
	if f.written-f.flushed >= writebackEvery {
		startWriteback(f.Fd(), f.flushed, f.written-f.flushed)
		f.flushed = f.written
	}
	return n, err
}

// Writeback wraps a file being written to start its disk writeback every
// writebackEvery bytes, as File does.
func Writeback(f *os.File) io.Writer { return &writeback{f: f} }

type writeback struct {
	f                *os.File
	written, flushed int64
}

func (w *writeback) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.written += int64(n)
	if w.written-w.flushed >= writebackEvery {
		startWriteback(w.f.Fd(), w.flushed, w.written-w.flushed)
		w.flushed = w.written
	}
	return n, err
}

// Abort closes and removes the temporary file.
func (f *File) Abort() {
	f.Close()
	os.Remove(f.Name())
}

// MkdirAll creates dir and its parents with mode perm (exactly, whatever the
// umask) and fsyncs the parent of each folder it made.
func MkdirAll(dir string, perm os.FileMode) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a folder", dir)
		}
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := MkdirAll(parent, perm); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, perm); err != nil && !os.IsExist(err) {
		return err
	}
	if err := chmodDir(dir, perm); err != nil {
		return err
	}
	return SyncDir(parent)
}

// chmodDir sets the mode of the folder dir through an open descriptor, so a
// symbolic link swapped in for it is refused, not followed.
func chmodDir(dir string, perm os.FileMode) error {
	d, err := os.OpenFile(dir, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return fmt.Errorf("open folder %s: %w", dir, err)
	}
	defer d.Close()
	return d.Chmod(perm)
}

// SyncTree fsyncs every file and folder under dir (dir included), so that
// a tree written without syncs (an unpacked bundle) is durable before it is
// renamed into place.
func SyncTree(dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := f.Sync(); err != nil {
			return fmt.Errorf("sync %s: %w", path, err)
		}
		return nil
	})
}
