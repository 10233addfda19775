package sftpd

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/pkg/sftp"
)

// rootFS serves SFTP requests from a folder through an *os.Root, so no request
// can reach outside it, whatever the path or the symbolic links in the folder.
type rootFS struct {
	root          *os.Root
	noPosixRename bool     // answer posix-rename@openssh.com as unsupported
	refuseRename  bool     // refuse every rename with "permission denied"
	extra         []string // names added to every listing (a lying server)
	lies          *lies    // other lies, and what they served
}

var (
	_ sftp.OpenFileWriter       = (*rootFS)(nil)
	_ sftp.PosixRenameFileCmder = (*rootFS)(nil)
	_ sftp.LstatFileLister      = (*rootFS)(nil)
	_ sftp.RealPathFileLister   = (*rootFS)(nil)
	_ sftp.ReadlinkFileLister   = (*rootFS)(nil)
)

// handlers returns the request-server handlers backed by fsys.
func (fsys *rootFS) handlers() sftp.Handlers {
	return sftp.Handlers{FileGet: fsys, FilePut: fsys, FileCmd: fsys, FileList: fsys}
}

// rel maps an SFTP path ("/push/a.pgp", "push/../a") to a name relative to the root.
func rel(p string) string {
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	if p == "" {
		return "."
	}
	return p
}

// Fileread opens a file for reading.
func (fsys *rootFS) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	if fsys.lies.isEndless(path.Base(r.Filepath)) {
		return endlessReader{}, nil
	}
	// As a server not run by root: a file its owner may not read is not read.
	if fi, err := fsys.root.Lstat(rel(r.Filepath)); err == nil && fi.Mode().Perm()&0o400 == 0 {
		return nil, os.ErrPermission
	}
	return fsys.root.Open(rel(r.Filepath))
}

// Filewrite opens a file for writing with the request's open flags.
func (fsys *rootFS) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	return fsys.open(r, os.O_WRONLY)
}

// OpenFile opens a file for reading and writing with the request's open flags.
func (fsys *rootFS) OpenFile(r *sftp.Request) (sftp.WriterAtReaderAt, error) {
	return fsys.open(r, os.O_RDWR)
}

// open translates SFTP open flags. Append is ignored: SFTP writes carry offsets.
func (fsys *rootFS) open(r *sftp.Request, flag int) (*os.File, error) {
	pf := r.Pflags()
	if pf.Creat {
		flag |= os.O_CREATE
	}
	if pf.Trunc {
		flag |= os.O_TRUNC
	}
	if pf.Excl {
		flag |= os.O_EXCL
	}
	perm := fs.FileMode(0o644)
	if r.AttrFlags().Permissions {
		perm = r.Attributes().FileMode().Perm()
	}
	return fsys.root.OpenFile(rel(r.Filepath), flag, perm)
}

// Filecmd runs commands that change the tree.
func (fsys *rootFS) Filecmd(r *sftp.Request) error {
	name := rel(r.Filepath)
	switch r.Method {
	case "Setstat":
		return fsys.setstat(name, r)
	case "Rename":
		return fsys.lies.afterRename(fsys.rename(name, rel(r.Target)))
	case "Rmdir":
		return fsys.remove(name, true)
	case "Remove":
		return fsys.remove(name, false)
	case "Mkdir":
		return fsys.root.Mkdir(name, 0o755)
	}
	// Links are not needed by sealpost and would let a client plant
	// symbolic links in the served folder.
	return sftp.ErrSSHFxOpUnsupported
}

// PosixRename replaces newpath atomically, like OpenSSH's posix-rename@openssh.com.
func (fsys *rootFS) PosixRename(r *sftp.Request) error {
	switch {
	case fsys.noPosixRename:
		return sftp.ErrSSHFxOpUnsupported
	case fsys.refuseRename:
		return sftp.ErrSSHFxPermissionDenied
	}
	return fsys.lies.afterRename(fsys.root.Rename(rel(r.Filepath), rel(r.Target)))
}

// rename is the plain SFTP rename with OpenSSH's semantics: it fails when
// newname exists. A hard link makes that check atomic for files.
func (fsys *rootFS) rename(oldname, newname string) error {
	if fsys.refuseRename {
		return sftp.ErrSSHFxPermissionDenied
	}
	err := fsys.root.Link(oldname, newname)
	if err == nil {
		return fsys.root.Remove(oldname)
	}
	if errors.Is(err, fs.ErrExist) {
		return err
	}
	// Folders cannot be hard-linked: check, then rename.
	if _, err := fsys.root.Lstat(newname); err == nil {
		return &fs.PathError{Op: "rename", Path: newname, Err: fs.ErrExist}
	}
	return fsys.root.Rename(oldname, newname)
}

// remove deletes a file (dir=false) or an empty folder (dir=true), refusing the other kind.
func (fsys *rootFS) remove(name string, dir bool) error {
	fi, err := fsys.root.Lstat(name)
	if err != nil {
		return err
	}
	switch {
	case dir && !fi.IsDir():
		return &fs.PathError{Op: "rmdir", Path: name, Err: syscall.ENOTDIR}
	case !dir && fi.IsDir():
		return &fs.PathError{Op: "remove", Path: name, Err: syscall.EISDIR}
	}
	return fsys.root.Remove(name)
}

// setstat applies the size, permissions and times given in a SETSTAT or FSETSTAT.
func (fsys *rootFS) setstat(name string, r *sftp.Request) error {
	flags, attrs := r.AttrFlags(), r.Attributes()
	if flags.Size {
		f, err := fsys.root.OpenFile(name, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		err = f.Truncate(int64(attrs.Size))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	if flags.Permissions {
		if err := fsys.root.Chmod(name, attrs.FileMode().Perm()); err != nil {
			return err
		}
	}
	if flags.Acmodtime {
		return fsys.root.Chtimes(name, attrs.AccessTime(), attrs.ModTime())
	}
	return nil
}

// Filelist answers directory listings and STAT.
func (fsys *rootFS) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	name := rel(r.Filepath)
	switch r.Method {
	case "List":
		return fsys.list(name)
	case "Stat":
		if fsys.lies.isEndless(path.Base(name)) {
			return lister{fsys.lies.endlessInfo()}, nil
		}
		fi, err := fsys.root.Stat(name)
		return statLister(fi, err)
	}
	return nil, sftp.ErrSSHFxOpUnsupported
}

// Lstat answers LSTAT without following a final symbolic link.
func (fsys *rootFS) Lstat(r *sftp.Request) (sftp.ListerAt, error) {
	if fsys.lies.isEndless(path.Base(r.Filepath)) {
		return lister{fsys.lies.endlessInfo()}, nil
	}
	return statLister(fsys.root.Lstat(rel(r.Filepath)))
}

// RealPath resolves p lexically against "/" (the root).
func (fsys *rootFS) RealPath(p string) (string, error) {
	return path.Clean("/" + p), nil
}

// Readlink returns the target of a symbolic link inside the root.
func (fsys *rootFS) Readlink(p string) (string, error) {
	return fsys.root.Readlink(rel(p))
}

// list reads a folder; entries carry lstat information, as OpenSSH sends.
func (fsys *rootFS) list(name string) (sftp.ListerAt, error) {
	dir, err := fsys.root.Open(name)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	entries, err := dir.Readdir(-1)
	if err != nil {
		return nil, err
	}
	for _, n := range fsys.extra {
		entries = append(entries, fakeFile(n))
	}
	if fsys.lies.endless != "" {
		entries = append(entries, fsys.lies.endlessInfo())
	}
	return lyingLister{real: entries, lies: fsys.lies}, nil
}

// fakeFile is a listed regular file of 1 byte that does not exist.
type fakeFile string

func (f fakeFile) Name() string       { return string(f) }
func (f fakeFile) Size() int64        { return 1 }
func (f fakeFile) Mode() fs.FileMode  { return 0o644 }
func (f fakeFile) ModTime() time.Time { return time.Unix(1_800_000_000, 0) }
func (f fakeFile) IsDir() bool        { return false }
func (f fakeFile) Sys() any           { return nil }

// statLister wraps a single stat result.
func statLister(fi fs.FileInfo, err error) (sftp.ListerAt, error) {
	if err != nil {
		return nil, err
	}
	return lister{fi}, nil
}

// lister serves a slice of file infos page by page.
type lister []fs.FileInfo

// ListAt copies entries from offset into ls.
func (l lister) ListAt(ls []fs.FileInfo, offset int64) (int, error) {
	if offset >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(ls, l[offset:])
	if n < len(ls) {
		return n, io.EOF
	}
	return n, nil
}
