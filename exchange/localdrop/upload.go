package localdrop

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"

	"github.com/sealpost/sealpost/exchange/drop"
)

// Upload is a file being written to dir/.<name>.part. Nothing appears under
// the final name until Commit. After any error the upload is spoiled: the
// caller must Abort it. An Upload is used by one goroutine at a time.
type Upload struct {
	d           *Drop
	ctx         context.Context // once ended, Write and Commit start nothing
	dir         string
	part, final string // drop paths
	f           *os.File
	written     int64
	err         error // first error; returned by every later call
}

// createFlags create a .part afresh; O_EXCL also refuses a link in its place.
const createFlags = os.O_WRONLY | os.O_CREATE | os.O_EXCL

// Create creates dir/.<name>.part afresh for writing. name must be a safe
// final name (no slashes, not hidden, ending .pgp or .asc), else the error
// wraps drop.ErrName. A .part left by an earlier attempt (or anything else
// under that name, a link included) is removed and a new file created
// exclusively, never reopened. Once ctx ends, Write and Commit fail with
// its cause instead of starting; Abort still cleans up.
func (d *Drop) Create(ctx context.Context, dir, name string) (drop.Upload, error) {
	final := path.Join(dir, name)
	if err := d.start(ctx, "create", final); err != nil {
		return nil, err
	}
	if reason := drop.HostileReason(name); reason != "" || !drop.IsFinalName(name) {
		if reason == "" {
			reason = "not a final bundle name (hidden, or not .pgp/.asc)"
		}
		return nil, d.errorf("create", final, fmt.Errorf("upload name %q: %s: %w", name, reason, drop.ErrName))
	}
	u := &Upload{d: d, ctx: ctx, dir: dir, part: path.Join(dir, drop.PartName(name)), final: final}
	if _, err := d.checkDir(dir); err != nil {
		return nil, d.errorf("create", u.part, err)
	}
	f, err := d.createNew(rel(u.part))
	if err != nil {
		return nil, d.errorf("create", u.part, err)
	}
	u.f = f
	return u, nil
}

// createNew creates the file p exclusively with the drop's file mode
// (whatever the umask); when that fails because p exists, it removes p
// and creates it again.
func (d *Drop) createNew(p string) (*os.File, error) {
	f, err := d.root.OpenFile(p, createFlags, d.mode)
	if errors.Is(err, fs.ErrExist) {
		if rerr := d.root.Remove(p); rerr != nil {
			return nil, err
		}
		f, err = d.root.OpenFile(p, createFlags, d.mode)
	}
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(d.mode); err != nil {
		f.Close()
		d.root.Remove(p)
		return nil, err
	}
	return f, nil
}

// Name returns the final drop path (dir/name).
func (u *Upload) Name() string { return u.final }

// live returns the upload's first error, which is ctx's cause once ctx
// has ended.
func (u *Upload) live(ctx context.Context) error {
	if u.err == nil {
		if err := context.Cause(ctx); err != nil {
			u.err = u.d.errorf("upload", u.final, fmt.Errorf("stopped: %w", err))
		}
	}
	return u.err
}

// Write writes p to the .part file.
func (u *Upload) Write(p []byte) (int, error) {
	if err := u.live(u.ctx); err != nil {
		return 0, err
	}
	if u.f == nil {
		u.err = u.d.errorf("upload", u.final, errors.New("write after commit"))
		return 0, u.err
	}
	n, err := u.f.Write(p)
	u.written += int64(n)
	if err != nil {
		u.err = u.d.errorf("write", u.part, err)
	}
	return n, u.err
}

// Commit fsyncs the .part, checks that it holds exactly size bytes (else
// drop.ErrSize), then publishes it under the final name without ever
// replacing a file there (a link, then the removal of the .part), and
// fsyncs the folder. If the final name already holds a regular file of
// that size (a retried commit whose first attempt went through), the
// upload counts as done and the .part is removed; any other file there
// fails the commit (fs.ErrExist) and is left as it is.
func (u *Upload) Commit(ctx context.Context, size int64) error {
	if err := u.live(ctx); err != nil {
		return err
	}
	if err := u.live(u.ctx); err != nil {
		return err
	}
	if u.f != nil {
		if err := u.closePart(size); err != nil {
			u.err = err
			return err
		}
	}
	if err := u.publish(size); err != nil {
		u.err = err
		return err
	}
	return nil
}

// closePart syncs and closes the .part file, then checks its size and that
// its name still leads to it.
func (u *Upload) closePart(size int64) error {
	f := u.f
	u.f = nil
	err := f.Sync()
	var fi fs.FileInfo
	if err == nil {
		fi, err = f.Stat()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return u.d.errorf("sync and close", u.part, err)
	}
	if u.written != size || fi.Size() != size {
		return u.d.errorf("commit", u.final, fmt.Errorf("wrote %d bytes (%d on disk), expected %d: %w", u.written, fi.Size(), size, drop.ErrSize))
	}
	// The name must still be the file written, not a link or file put in its place.
	lfi, err := u.d.root.Lstat(rel(u.part))
	if err == nil && !os.SameFile(fi, lfi) {
		err = errors.New("replaced while it was written")
	}
	if err != nil {
		return u.d.errorf("commit", u.part, err)
	}
	return nil
}

// publish links the .part under the final name and removes the .part.
func (u *Upload) publish(size int64) error {
	err := u.d.root.Link(rel(u.part), rel(u.final))
	if err != nil {
		return u.alreadyDone(size, err)
	}
	if err := u.d.root.Remove(rel(u.part)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return u.d.errorf("remove", u.part, err)
	}
	return u.d.syncDir(u.dir)
}

// alreadyDone returns nil (removing a leftover .part) when the final name
// already holds a regular file of size bytes, else linkErr.
func (u *Upload) alreadyDone(size int64, linkErr error) error {
	fi, err := u.d.root.Lstat(rel(u.final))
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != size {
		if errors.Is(linkErr, fs.ErrExist) {
			// Another file holds the name: trying again cannot help.
			return drop.Permanent(u.d.errorf("publish", u.final,
				fmt.Errorf("another file already has the final name and is not replaced: %w", linkErr)))
		}
		return u.d.errorf("publish", u.final, linkErr)
	}
	if err := u.d.root.Remove(rel(u.part)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return u.d.errorf("remove leftover", u.part, err)
	}
	return u.d.syncDir(u.dir)
}

// Abort closes the file if needed and removes the .part, also once ctx
// has ended (removing a local file cannot hang); a .part already gone is
// not an error.
func (u *Upload) Abort(context.Context) error {
	if u.f != nil {
		u.f.Close()
		u.f = nil
	}
	if u.err == nil {
		u.err = u.d.errorf("upload", u.final, errors.New("aborted"))
	}
	if err := u.d.root.Remove(rel(u.part)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return u.d.errorf("abort", u.part, err)
	}
	return nil
}
