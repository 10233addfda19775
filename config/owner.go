package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// ErrNotOurs is wrapped (by an *OwnerError) when a file sealpost trusts, or
// a folder above it, belongs to a user other than root and the user
// sealpost runs as.
var ErrNotOurs = errors.New("owned by another user")

// OwnerError names a file sealpost trusts (the configuration, a key,
// known_hosts, a passphrase file), or a folder above it, that belongs to
// another user: its owner may change it at will, whatever its mode, as
// OpenSSH's StrictModes holds.
type OwnerError struct {
	Path string // the file or folder owned by another user
	File string // the trusted file: Path itself, or a file below it
	UID  uint32 // Path's owner
}

// Error says what is owned by whom and how to fix it.
func (e *OwnerError) Error() string {
	what := e.Path + " is"
	if e.Path != e.File {
		what = "folder " + e.Path + ", above " + e.File + ", is"
	}
	euid := uint32(os.Geteuid())
	trusted := "root"
	if euid != 0 {
		trusted += " or by " + userName(euid)
	}
	return fmt.Sprintf("%s owned by %s, not by %s (the user sealpost runs as), and its owner may change it at will: run %s",
		what, userName(e.UID), trusted, e.Fix())
}

// Fix is the command that fixes it: chown, to the user sealpost runs as.
func (e *OwnerError) Fix() string {
	return "chown " + loginName(uint32(os.Geteuid())) + " " + e.Path
}

// loginName is the name chown takes for uid: the user name, or the number.
func loginName(uid uint32) string {
	id := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(id); err == nil {
		return u.Username
	}
	return id
}

// Unwrap returns ErrNotOurs.
func (e *OwnerError) Unwrap() error { return ErrNotOurs }

// userName names uid: "alice (uid 1000)", or "uid 1000" when unknown.
func userName(uid uint32) string {
	if name, id := loginName(uid), strconv.FormatUint(uint64(uid), 10); name != id {
		return name + " (uid " + id + ")"
	}
	return "uid " + strconv.FormatUint(uint64(uid), 10)
}

// trustedOwner reports whether uid is root or the user sealpost runs as.
func trustedOwner(uid uint32) bool {
	return uid == 0 || uid == uint32(os.Geteuid())
}

// fileOwner returns the owner of what fi describes.
func fileOwner(fi fs.FileInfo) (uint32, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Uid, true
}

// checkFileOwner refuses a file (described by fi, from the open file where
// possible) owned by another user.
func checkFileOwner(path string, fi fs.FileInfo) error {
	if uid, ok := fileOwner(fi); ok && !trustedOwner(uid) {
		return &OwnerError{Path: path, File: path, UID: uid}
	}
	return nil
}

// CheckOwner returns an *OwnerError if the file at path, or any folder
// above it up to /, belongs to a user other than root and the user
// sealpost runs as. A path through symbolic links is checked twice: as
// written, and as the links resolve. A missing file or folder is not this
// check's error, but the folders above it are still checked: a folder still
// to be made (state_dir on the first run) is made in them.
func CheckOwner(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	paths := []string{abs}
	if real := resolveExisting(abs); real != abs {
		paths = append(paths, real)
	}
	for _, p := range paths {
		for q := p; ; q = filepath.Dir(q) {
			fi, err := os.Lstat(q)
			if err == nil {
				if uid, ok := fileOwner(fi); ok && !trustedOwner(uid) {
					return &OwnerError{Path: q, File: abs, UID: uid}
				}
			}
			if q == filepath.Dir(q) {
				break
			}
		}
	}
	return nil
}

// resolveExisting resolves the symbolic links of abs's longest existing
// prefix and appends the rest, which does not exist yet.
func resolveExisting(abs string) string {
	rest := ""
	for q := abs; ; q = filepath.Dir(q) {
		if real, err := filepath.EvalSymlinks(q); err == nil {
			return filepath.Join(real, rest)
		}
		if q == filepath.Dir(q) {
			return abs
		}
		rest = filepath.Join(filepath.Base(q), rest)
	}
}

// OpenFolder returns the first folder above path, up to / and as written
// or as its links resolve, that its group or others may write to without
// the sticky bit (they could replace the file), with its mode; "" if none.
func OpenFolder(path string) (string, fs.FileMode) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", 0
	}
	paths := []string{filepath.Dir(abs)}
	if real := resolveExisting(abs); real != abs {
		paths = append(paths, filepath.Dir(real))
	}
	for _, p := range paths {
		for q := p; ; q = filepath.Dir(q) {
			if fi, err := os.Stat(q); err == nil && fi.Mode().Perm()&0o022 != 0 && fi.Mode()&fs.ModeSticky == 0 {
				return q, fi.Mode().Perm()
			}
			if q == filepath.Dir(q) {
				break
			}
		}
	}
	return "", 0
}

// checkStateDir refuses a state_dir that another user could change or
// replace, existing or still to be made: one that its group or others may
// write to (even with the sticky bit: they could add entries where we
// write), one below a folder that group or others may write to without the
// sticky bit (they could rename state_dir away and put their own folder in
// its place while a daemon runs), and one that belongs, or sits below a
// folder that belongs, to a user other than root and us (CheckOwner).
func checkStateDir(path string) error {
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("state_dir %s has mode %04o: it is %w; run chmod go-w %s",
			path, fi.Mode().Perm(), ErrWritableByOthers, path)
	}
	if dir, mode := OpenFolder(path); dir != "" {
		return fmt.Errorf("folder %s, above state_dir %s, has mode %04o without the sticky bit: it is %w; run chmod go-w %s",
			dir, path, mode, ErrWritableByOthers, dir)
	}
	return CheckOwner(path)
}
