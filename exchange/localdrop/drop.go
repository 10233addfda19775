// Package localdrop reaches a partner's drop folders on this machine: we
// host the drop and the partner reaches the same folders over our sshd. It
// keeps the guarantees of the SFTP transport: the same name rules, uploads
// under a hidden temporary name published by a rename that never replaces
// a file, fsync of the file and of its folder, bounded listings, and no
// symbolic link followed. Every path is opened below the drop's root
// through os.Root; every folder on the way is looked at without following
// it (a symbolic link is refused), and a file is read only when the open
// file is the very file looked at.
package localdrop

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/sealpost/sealpost/exchange/drop"
)

// DefaultFileMode is the mode of the files Create publishes when
// Config.FileMode is 0: the partner's account reads them through the
// folder's group.
const DefaultFileMode fs.FileMode = 0o640

// Config says where the drop is.
type Config struct {
	// Root is the absolute path of the folder holding the drop's folders
	// (the partner's chroot, typically). Paths given to a Drop are
	// slash-separated and relative to it; a leading "/" names Root itself.
	Root string
	// FileMode is the mode of published files; 0 means DefaultFileMode.
	FileMode fs.FileMode
}

// Drop is an open drop folder tree. Its methods may be called from several
// goroutines.
type Drop struct {
	base string // Config.Root, for errors
	mode fs.FileMode
	root *os.Root

	maxEntries, maxScanned int // drop.MaxEntries and drop.MaxScanned; smaller in tests
}

// Open opens the drop rooted at cfg.Root, which must be an absolute path
// to a folder.
func Open(cfg Config) (*Drop, error) {
	if !filepath.IsAbs(cfg.Root) {
		return nil, fmt.Errorf("local drop root %q is not an absolute path", cfg.Root)
	}
	root, err := os.OpenRoot(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("open local drop root %s: %w", cfg.Root, err)
	}
	mode := cfg.FileMode
	if mode == 0 {
		mode = DefaultFileMode
	}
	return &Drop{base: cfg.Root, mode: mode.Perm(), root: root, maxEntries: drop.MaxEntries, maxScanned: drop.MaxScanned}, nil
}

// Close releases the drop's root; every later call fails.
func (d *Drop) Close() error { return d.root.Close() }

// Address returns the folder the drop is rooted at, for the exchange log.
func (d *Drop) Address() string { return d.base }

// HostKey returns "": a local drop has no far side with a key.
func (d *Drop) HostKey() string { return "" }

// errorf returns the error of operation op on the drop path p, marked as
// answered (drop.Answered): there is no connection a failure could have
// broken, so a retry keeps the Drop for whoever else uses it.
func (d *Drop) errorf(op, p string, err error) error {
	return drop.Answered(fmt.Errorf("local drop %s: %s %s: %w", d.base, op, p, err))
}

// start returns the error of an operation that must not start because ctx
// has ended.
func (d *Drop) start(ctx context.Context, op, p string) error {
	if ctx.Err() != nil {
		return d.errorf(op, p, context.Cause(ctx))
	}
	return nil
}

// rel turns a drop path into a name relative to the root ("." for the root).
func rel(p string) string {
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	if p == "" {
		return "."
	}
	return p
}

// checkDir looks at every folder of the drop path dir, from the root down,
// without following it: each must be a folder, not a symbolic link. It
// returns the lstat of dir itself. A folder swapped for a link after this
// look can only lead elsewhere inside the root: os.Root keeps every open
// below it.
func (d *Drop) checkDir(dir string) (fs.FileInfo, error) {
	fi, err := d.root.Lstat(".")
	if err != nil || rel(dir) == "." {
		return fi, err
	}
	walked := ""
	for _, part := range strings.Split(rel(dir), "/") {
		walked = path.Join(walked, part)
		if fi, err = d.root.Lstat(walked); err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			return nil, notFolder(walked, fi)
		}
	}
	return fi, nil
}

// folderFlags open a folder for reading and nothing else: a FIFO or device
// swapped in for the folder after it was looked at fails at once
// (O_DIRECTORY) instead of blocking the open (O_NONBLOCK).
const folderFlags = os.O_RDONLY | syscall.O_DIRECTORY | syscall.O_NONBLOCK

// openFolder opens the folder dir below the root with folderFlags.
func (d *Drop) openFolder(dir string) (*os.File, error) {
	return d.root.OpenFile(rel(dir), folderFlags, 0)
}

// notFolder explains why an entry met as a folder is refused.
func notFolder(name string, fi fs.FileInfo) error {
	if fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("%s is a symbolic link, not a folder (links are never followed)", name)
	}
	return fmt.Errorf("%s is not a folder (%s)", name, fi.Mode().Type())
}

// Stat returns the attributes of the file at p without following a
// symbolic link (a link is described, not its target).
func (d *Drop) Stat(ctx context.Context, p string) (fs.FileInfo, error) {
	if err := d.start(ctx, "stat", p); err != nil {
		return nil, err
	}
	if _, err := d.checkDir(path.Dir(rel(p))); err != nil {
		return nil, d.errorf("stat", p, err)
	}
	fi, err := d.root.Lstat(rel(p))
	if err != nil {
		return nil, d.errorf("stat", p, err)
	}
	return fi, nil
}

// Remove deletes the file (or link) at p; one that does not exist is not
// an error, a folder is refused.
func (d *Drop) Remove(ctx context.Context, p string) error {
	if err := d.start(ctx, "remove", p); err != nil {
		return err
	}
	dir := path.Dir(rel(p))
	if _, err := d.checkDir(dir); err != nil {
		return d.errorf("remove", p, err)
	}
	fi, err := d.root.Lstat(rel(p))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return d.errorf("remove", p, err)
	case fi.IsDir():
		return d.errorf("remove", p, errors.New("is a folder, not a file"))
	}
	if err := d.root.Remove(rel(p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return d.errorf("remove", p, err)
	}
	return d.syncDir(dir)
}

// Rename moves oldpath to newpath, replacing a file at newpath atomically
// (rename(2)), as the SFTP transport does with posix-rename. Neither name
// is followed if it is a symbolic link. Both folders are fsynced.
func (d *Drop) Rename(ctx context.Context, oldpath, newpath string) error {
	if err := d.start(ctx, "rename", oldpath); err != nil {
		return err
	}
	from, to := path.Dir(rel(oldpath)), path.Dir(rel(newpath))
	for _, dir := range []string{from, to} {
		if _, err := d.checkDir(dir); err != nil {
			return d.errorf("rename", oldpath, err)
		}
	}
	if err := d.root.Rename(rel(oldpath), rel(newpath)); err != nil {
		return d.errorf("rename", oldpath, err)
	}
	if err := d.syncDir(to); err != nil {
		return err
	}
	if from != to {
		return d.syncDir(from)
	}
	return nil
}

// syncDir fsyncs the folder dir so that a name created, renamed or removed
// in it survives a crash.
func (d *Drop) syncDir(dir string) error {
	f, err := d.openFolder(dir)
	if err != nil {
		return d.errorf("sync folder", dir, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return d.errorf("sync folder", dir, err)
	}
	return nil
}
