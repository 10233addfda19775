// Package safeopen reads files and folders that someone else may be changing
// while sealpost reads them (the PATHs given to send, an outbox item): it
// never follows a symbolic link, never opens a device, FIFO or socket, never
// reads a file with several hard links, and judges every file on the open
// descriptor, not on its path, so a link swapped in between a check and the
// open is refused rather than followed.
//
// Folders are walked through os.Root, which keeps every open below the
// folder given. Every entry is first looked at without following it
// (lstat); what is then opened must be that same file (same device and
// inode), so an entry replaced by a link after the look is refused.
package safeopen

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"syscall"
)

// ErrUnsafe is wrapped by every refusal: a symbolic link, a hard-linked
// file, a device, FIFO or socket, or an entry that changed while it was
// checked.
var ErrUnsafe = errors.New("not a plain file or folder")

// VisitFunc is called by Walk for each folder (f nil) and each regular file
// (f open for reading, checked) it meets, in lexical order, parents first.
// rel is the entry's slash-separated path below the walked path, "." for the
// path itself. Walk closes f after fn returns; fi is the open entry's own
// fstat.
type VisitFunc func(rel string, f *os.File, fi fs.FileInfo) error

// beforeOpen, set by tests only, runs between the look at an entry and its
// open: the window in which a link swapped in would be followed.
var beforeOpen = func(where string) {}

// openFlags open a file for reading without following a final symbolic link
// or blocking on a FIFO.
const openFlags = os.O_RDONLY | syscall.O_NOFOLLOW | syscall.O_NONBLOCK

// Open opens the regular file at path for reading, refusing (ErrUnsafe) a
// symbolic link as its final name, anything but a regular file, and a file
// with more than one hard link, all judged on the opened descriptor.
func Open(path string) (*os.File, fs.FileInfo, error) {
	f, err := os.OpenFile(path, openFlags, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, nil, fmt.Errorf("%s is a symbolic link: %w", path, ErrUnsafe)
	}
	if err != nil {
		return nil, nil, err
	}
	fi, err := checkOpen(f, path, nil)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// Walk visits the regular file or the folder at path and, for a folder,
// everything below it, calling fn as VisitFunc says. It refuses (ErrUnsafe,
// naming the entry) the first symbolic link, hard-linked file, device,
// FIFO or socket it meets at any depth, and any entry that is not, once
// open, the file it looked at.
func Walk(path string, fn VisitFunc) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	beforeOpen(path)
	switch m := fi.Mode(); {
	case m.IsRegular():
		f, err := os.OpenFile(path, openFlags, 0)
		if err != nil {
			return openError(path, err, fi, os.Lstat)
		}
		return visitFile(f, path, ".", fi, fn)
	case m.IsDir():
		root, err := os.OpenRoot(path)
		if err != nil {
			return openError(path, err, fi, os.Lstat)
		}
		defer root.Close()
		return walkRoot(root, path, ".", fi, fn)
	}
	return fmt.Errorf("%s is a %s: %w", path, Kind(fi.Mode()), ErrUnsafe)
}

// walkRoot visits the folder open as root (looked at as seen), then its
// entries in lexical order.
func walkRoot(root *os.Root, where, rel string, seen fs.FileInfo, fn VisitFunc) error {
	st, err := root.Stat(".")
	if err != nil {
		return err
	}
	if !os.SameFile(seen, st) {
		return fmt.Errorf("%s was replaced while it was read: %w", where, ErrUnsafe)
	}
	if err := fn(rel, nil, st); err != nil {
		return err
	}
	names, err := readNames(root, where)
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := walkEntry(root, filepath.Join(where, name), name, path.Join(rel, name), fn); err != nil {
			return err
		}
	}
	return nil
}

// walkEntry visits the entry name of the folder open as root.
func walkEntry(root *os.Root, where, name, rel string, fn VisitFunc) error {
	fi, err := root.Lstat(name)
	if err != nil {
		return err
	}
	beforeOpen(where)
	switch m := fi.Mode(); {
	case m.IsRegular():
		f, err := root.OpenFile(name, openFlags, 0)
		if err != nil {
			return openError(where, err, fi, func(string) (fs.FileInfo, error) { return root.Lstat(name) })
		}
		return visitFile(f, where, rel, fi, fn)
	case m.IsDir():
		sub, err := root.OpenRoot(name)
		if err != nil {
			return openError(where, err, fi, func(string) (fs.FileInfo, error) { return root.Lstat(name) })
		}
		defer sub.Close()
		return walkRoot(sub, where, rel, fi, fn)
	}
	return fmt.Errorf("%s is a %s: %w", where, Kind(fi.Mode()), ErrUnsafe)
}

// visitFile checks the open file f against what was looked at and hands it
// to fn, closing it afterwards.
func visitFile(f *os.File, where, rel string, seen fs.FileInfo, fn VisitFunc) error {
	defer f.Close()
	fi, err := checkOpen(f, where, seen)
	if err != nil {
		return err
	}
	return fn(rel, f, fi)
}

// checkOpen refuses an open file that is not a regular file with one link,
// or (seen not nil) not the file that was looked at.
func checkOpen(f *os.File, where string, seen fs.FileInfo) (fs.FileInfo, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is a %s, not a regular file: %w", where, Kind(fi.Mode()), ErrUnsafe)
	}
	if seen != nil && !os.SameFile(seen, fi) {
		return nil, fmt.Errorf("%s was replaced while it was read: %w", where, ErrUnsafe)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
		return nil, fmt.Errorf("%s has %d hard links and may change under another name; copy it instead: %w", where, st.Nlink, ErrUnsafe)
	}
	return fi, nil
}

// readNames lists the folder open as root, sorted.
func readNames(root *os.Root, where string) ([]string, error) {
	d, err := root.Open(".")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("reading folder %s: %w", where, err)
	}
	sort.Strings(names)
	return names, nil
}

// openError explains a failed open of the entry at where, looked at as
// seen: if lstat now finds another file there (a link swapped in, which
// os.Root refuses to follow out of the folder), it was replaced while it
// was read.
func openError(where string, err error, seen fs.FileInfo, lstat func(string) (fs.FileInfo, error)) error {
	if now, lerr := lstat(where); lerr == nil && !os.SameFile(seen, now) {
		return fmt.Errorf("%s was replaced while it was read: %w", where, ErrUnsafe)
	}
	if errors.Is(err, syscall.ELOOP) {
		return fmt.Errorf("%s is a symbolic link: %w", where, ErrUnsafe)
	}
	return err
}

// Kind names the type of a file mode for messages: "symbolic link",
// "named pipe", "socket", "character device", "device", "folder",
// "regular file".
func Kind(m fs.FileMode) string {
	switch {
	case m&os.ModeSymlink != 0:
		return "symbolic link"
	case m&os.ModeNamedPipe != 0:
		return "named pipe"
	case m&os.ModeSocket != 0:
		return "socket"
	case m&os.ModeCharDevice != 0:
		return "character device"
	case m&os.ModeDevice != 0:
		return "device"
	case m.IsDir():
		return "folder"
	case m.IsRegular():
		return "regular file"
	}
	return "special file"
}
