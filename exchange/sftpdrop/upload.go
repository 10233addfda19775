package sftpdrop

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"

	"github.com/pkg/sftp"

	"github.com/sealpost/sealpost/exchange/drop"
)

// uploadBuffer is how much Upload gathers before sending it as concurrent
// 32 KiB write requests: 64 of them, the client's limit of requests in flight.
const uploadBuffer = 2 << 20

// Upload is a file being written to dir/.<name>.part, a drop.Upload.
// Nothing appears under the final name until Commit. After any error the
// upload is spoiled (a failed concurrent write may leave a hole): the
// caller must Abort it. An Upload is used by one goroutine at a time.
type Upload struct {
	d           *Drop
	ctx         context.Context // Create's: bounds Write and Close; once ended, no further operation but Abort starts
	part, final string
	f           *sftp.File
	buf         []byte
	written     int64
	err         error // first error; returned by every later call
}

// Create creates dir/.<name>.part afresh for writing. name must be a safe
// final name (no slashes, not hidden, ending .pgp or .asc), else the error
// wraps drop.ErrName. A .part left by an earlier attempt is removed and a
// new file created, never reopened: the server may still be carrying out
// writes that attempt queued on a connection since abandoned, and they
// must land in the old file, not in this upload. ctx bounds the upload's
// writes: once it ends, the write under way stops at once (the connection
// is closed, as for every operation of the Drop) and the next fails with
// its error instead of starting; Abort, given a live context, can still
// clean up.
func (d *Drop) Create(ctx context.Context, dir, name string) (drop.Upload, error) {
	if reason := drop.HostileReason(name); reason != "" || !drop.IsFinalName(name) {
		if reason == "" {
			reason = "not a final bundle name (hidden, or not .pgp/.asc)"
		}
		return nil, fmt.Errorf("upload name %q: %s: %w", name, reason, drop.ErrName)
	}
	u := &Upload{d: d, ctx: ctx, part: path.Join(dir, drop.PartName(name)), final: path.Join(dir, name)}
	if err := u.live(); err != nil {
		return nil, err
	}
	err := d.do(ctx, "create", u.part, func(func()) error {
		var err error
		u.f, err = d.createNew(u.part)
		return err
	})
	if err != nil {
		return nil, err
	}
	u.buf = make([]byte, 0, 64<<10)
	return u, nil
}

// createNew creates the file p exclusively; when that fails (most likely p
// exists) and removing p works, it creates it again. The first error is
// returned when the removal fails too.
func (d *Drop) createNew(p string) (*sftp.File, error) {
	const flags = os.O_WRONLY | os.O_CREATE | os.O_EXCL
	f, err := d.sftp.OpenFile(p, flags)
	if err == nil || errors.Is(err, fs.ErrPermission) || errors.Is(err, fs.ErrNotExist) {
		return f, err
	}
	if rerr := d.sftp.Remove(p); rerr != nil {
		return nil, err
	}
	return d.sftp.OpenFile(p, flags)
}

// live returns the upload's first error, which is the context's once it
// has ended.
func (u *Upload) live() error {
	if u.err == nil {
		if err := context.Cause(u.ctx); err != nil {
			u.err = fmt.Errorf("upload %s stopped: %w", u.final, err)
		}
	}
	return u.err
}

// Name returns the final remote path (dir/name).
func (u *Upload) Name() string { return u.final }

// Write buffers p and sends full buffers to the server.
func (u *Upload) Write(p []byte) (int, error) {
	if err := u.live(); err != nil {
		return 0, err
	}
	n := len(p)
	for len(p) > 0 {
		if len(u.buf) == cap(u.buf) { // grows to uploadBuffer: small files need little
			u.buf = append(make([]byte, 0, min(2*cap(u.buf), uploadBuffer)), u.buf...)
		}
		c := copy(u.buf[len(u.buf):cap(u.buf)], p)
		u.buf, p = u.buf[:len(u.buf)+c], p[c:]
		if len(u.buf) == uploadBuffer {
			if err := u.flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

// flush sends the buffer as concurrent write requests.
func (u *Upload) flush() error {
	if len(u.buf) == 0 {
		return nil
	}
	if err := u.live(); err != nil {
		u.buf = u.buf[:0]
		return err
	}
	u.err = u.d.do(u.ctx, "write", u.part, func(func()) error {
		n, err := u.f.Write(u.buf)
		u.written += int64(n)
		return err
	})
	u.buf = u.buf[:0]
	return u.err
}

// Close sends what is buffered and closes the remote file, both bounded by
// the context given to Create. It is called by Commit; calling it again
// does nothing.
func (u *Upload) Close() error {
	if u.f == nil {
		return u.err
	}
	u.flush()
	f := u.f
	u.f = nil
	err := u.d.do(u.ctx, "close", u.part, func(func()) error { return f.Close() })
	if u.err == nil {
		u.err = err
	}
	return u.err
}

// Commit closes the file, checks that the remote .part holds exactly size
// bytes (else drop.ErrSize), then renames it to the final name: atomically
// replacing with posix-rename@openssh.com when the server has it, else a
// plain rename. If the rename fails but the final name already holds a file
// of that size (a retried commit whose first reply was lost, or a server
// refusing to overwrite), the upload counts as done and the .part is removed.
// The close is bounded by the context given to Create, the rest by ctx.
func (u *Upload) Commit(ctx context.Context, size int64) error {
	if err := u.Close(); err != nil {
		return err
	}
	if err := u.live(); err != nil {
		return err
	}
	if u.written != size {
		u.err = fmt.Errorf("upload %s: wrote %d bytes, expected %d: %w", u.final, u.written, size, drop.ErrSize)
		return u.err
	}
	return u.d.do(ctx, "commit", u.final, func(func()) error {
		fi, err := u.d.sftp.Stat(u.part)
		if errors.Is(err, fs.ErrNotExist) {
			return u.alreadyDone(size, err)
		}
		if err != nil {
			return err
		}
		if fi.Size() != size {
			return fmt.Errorf("%s holds %d bytes, expected %d: %w", u.part, fi.Size(), size, drop.ErrSize)
		}
		if err := u.d.rename(u.part, u.final); err != nil {
			return u.alreadyDone(size, err)
		}
		return nil
	})
}

// alreadyDone returns nil (removing a leftover .part) when the final name
// already holds size bytes, else renameErr.
func (u *Upload) alreadyDone(size int64, renameErr error) error {
	fi, err := u.d.sftp.Stat(u.final)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != size {
		return fmt.Errorf("rename to final name: %w", renameErr)
	}
	if err := u.d.sftp.Remove(u.part); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove leftover %s: %w", u.part, err)
	}
	return nil
}

// Abort closes the file if needed and removes the .part, both bounded by
// ctx, also once the context given to Create has ended; a .part already
// gone is not an error.
func (u *Upload) Abort(ctx context.Context) error {
	if u.f != nil {
		f := u.f
		u.f = nil
		u.d.do(ctx, "close", u.part, func(func()) error { return f.Close() })
	}
	if u.err == nil {
		u.err = fmt.Errorf("upload %s aborted", u.final)
	}
	return u.d.Remove(ctx, u.part)
}
