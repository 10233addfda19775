// Package sftpdrop moves bundle files to and from a partner's SFTP drop
// folder over SSH, with strict host key checking, bounded waits, uploads
// under hidden temporary names and defensive listings.
package sftpdrop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net"
	"path"
	"sync"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/sealpost/sealpost/exchange/drop"
)

// Drop is a logged-in SFTP session. Its methods may be called from several
// goroutines. Once an operation stalls past the timeout or its context is
// cancelled, the connection is closed and every later call fails: dial again.
type Drop struct {
	addr        string
	hostKey     string
	timeout     time.Duration
	conn        net.Conn
	ssh         *ssh.Client
	sftp        *sftp.Client
	posixRename bool

	stop      chan struct{}
	closeOnce sync.Once

	mu      sync.Mutex
	failure error // why the connection was closed under us
}

// HostKey returns the SHA256 fingerprint ("SHA256:...") of the server's host key.
func (d *Drop) HostKey() string { return d.hostKey }

// Address returns the server address dialled (host:port).
func (d *Drop) Address() string { return d.addr }

// Close ends the session and the connection.
func (d *Drop) Close() error {
	var err error
	d.closeOnce.Do(func() {
		close(d.stop)
		if d.sftp != nil {
			d.sftp.Close()
		}
		err = d.ssh.Close()
		if errors.Is(err, net.ErrClosed) {
			err = nil
		}
	})
	return err
}

// fail records why the connection is being torn down and closes it.
func (d *Drop) fail(err error) {
	d.mu.Lock()
	if d.failure == nil {
		d.failure = err
	}
	d.mu.Unlock()
	d.conn.Close()
}

// failed returns the reason recorded by fail, or nil.
func (d *Drop) failed() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.failure
}

// do runs fn as operation op on path under a watchdog: if fn makes no
// progress (calls to kick) for the timeout, or ctx ends, the connection is
// closed so fn returns. Errors name the operation, path and server.
func (d *Drop) do(ctx context.Context, op, p string, fn func(kick func()) error) error {
	if err := d.failed(); err != nil {
		return fmt.Errorf("sftp %s %s on %s: %w: %w", op, p, d.addr, ErrClosed, err)
	}
	if ctx.Err() != nil { // an ended run starts nothing more on the drop
		return fmt.Errorf("sftp %s %s on %s: %w", op, p, d.addr, context.Cause(ctx))
	}
	timer := time.AfterFunc(d.timeout, func() {
		d.fail(fmt.Errorf("no response within %s: %w", d.timeout, ErrTimeout))
	})
	stopCtx := context.AfterFunc(ctx, func() { d.fail(context.Cause(ctx)) })
	err := fn(func() { timer.Reset(d.timeout) })
	timer.Stop()
	stopCtx()
	if err == nil {
		return nil
	}
	if cause := d.failed(); cause != nil {
		return fmt.Errorf("sftp %s %s on %s: %w (%v)", op, p, d.addr, cause, bounded{err})
	}
	return fmt.Errorf("sftp %s %s on %s: %w", op, p, d.addr, markReply(bounded{err}))
}

// keepalive sends keepalive@openssh.com every timeout/2 and closes the
// connection when one is not answered within the timeout.
func (d *Drop) keepalive() {
	ticker := time.NewTicker(d.timeout / 2)
	defer ticker.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-ticker.C:
		}
		answered := make(chan error, 1)
		go func() {
			_, _, err := d.ssh.SendRequest("keepalive@openssh.com", true, nil)
			answered <- err
		}()
		select {
		case <-d.stop:
			return
		case err := <-answered:
			if err != nil {
				d.fail(fmt.Errorf("keepalive failed: %w", err))
				return
			}
		case <-time.After(d.timeout):
			d.fail(fmt.Errorf("keepalive not answered within %s: %w", d.timeout, ErrTimeout))
			return
		}
	}
}

// List returns the regular files in dir with final names (not starting with
// '.', ending in .pgp or .asc), sorted by name: the first drop.MaxEntries the
// server lists. The folder is read page by page and reading stops after
// drop.MaxScanned entries of any kind, so a listing without end costs bounded
// memory and time. Hostile names, symbolic links and other non-regular
// final names are returned in skipped with a reason, as is the cut when the
// listing is truncated. Hidden files (uploads in progress) and other names
// are ignored silently.
func (d *Drop) List(ctx context.Context, dir string) ([]drop.Entry, []drop.Skipped, error) {
	l := drop.NewListing(drop.MaxEntries, drop.MaxScanned)
	complete := false
	err := d.do(ctx, "list", dir, func(kick func()) error {
		var err error
		complete, err = d.walkDir(ctx, dir, kick, func(fi fs.FileInfo) {
			ent, reason := drop.Classify(fi)
			l.Add(fi.Name(), ent, reason)
		})
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	entries, skipped := l.Result(complete)
	return entries, skipped, nil
}

// Download copies dir/name into w using concurrent reads and returns the
// byte count, which must equal the remote file's size (else drop.ErrSize). It
// reads at most one byte more than that size, whatever the server sends.
func (d *Drop) Download(ctx context.Context, dir, name string, w io.Writer) (int64, error) {
	return d.download(ctx, path.Join(dir, name), nil, w)
}

// DownloadListed is Download for a file as List returned it: it fails with
// drop.ErrChanged, before or after reading, when the file's size or modification
// time is no longer what the listing said, or when it holds more bytes than
// listed (a partner still uploading, a server serving without end). At most
// ent.Size+1 bytes are read.
func (d *Drop) DownloadListed(ctx context.Context, dir string, ent drop.Entry, w io.Writer) (int64, error) {
	return d.download(ctx, path.Join(dir, ent.Name), &ent, w)
}

// download reads the file at p into w, at most its size (listed, when
// listed is set, else as stat gives it) plus one byte.
func (d *Drop) download(ctx context.Context, p string, listed *drop.Entry, w io.Writer) (int64, error) {
	var n int64
	err := d.do(ctx, "download", p, func(kick func()) error {
		fi, err := d.sftp.Lstat(p)
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
		}
		if err := unchanged(listed, fi); err != nil {
			return err
		}
		if fi.Size() < 0 {
			return fmt.Errorf("the server gives the file a negative size (%d): %w", fi.Size(), changedOr(listed, drop.ErrSize))
		}
		f, err := d.sftp.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		// The extra byte detects growth; no room for it at the largest size.
		capped := &capWriter{w: progress{w, kick}, left: fi.Size() + min(1, math.MaxInt64-fi.Size())}
		n, err = f.WriteTo(capped)
		if errors.Is(err, errPastSize) {
			return fmt.Errorf("the server sent more than the file's %d bytes: %w", fi.Size(), changedOr(listed, drop.ErrSize))
		}
		if err != nil {
			return err
		}
		if listed != nil {
			if err := d.recheck(p, listed); err != nil {
				return err
			}
		}
		if n != fi.Size() {
			return fmt.Errorf("received %d bytes of a %d-byte file: %w", n, fi.Size(), drop.ErrSize)
		}
		return nil
	})
	return n, err
}

// recheck stats p again after a download and compares it with the listing.
func (d *Drop) recheck(p string, listed *drop.Entry) error {
	fi, err := d.sftp.Lstat(p)
	if err != nil {
		return fmt.Errorf("stat after reading: %w", err)
	}
	return unchanged(listed, fi)
}

// unchanged returns a drop.ErrChanged error when fi's size or modification time
// differs from the listing (nil listed: nothing to compare).
func unchanged(listed *drop.Entry, fi fs.FileInfo) error {
	switch {
	case listed == nil:
		return nil
	case fi.Size() != listed.Size:
		return fmt.Errorf("size is %d bytes, the listing said %d: %w", fi.Size(), listed.Size, drop.ErrChanged)
	case !fi.ModTime().Equal(listed.ModTime):
		return fmt.Errorf("modified at %s, the listing said %s: %w", fi.ModTime().UTC().Format(time.RFC3339), listed.ModTime.UTC().Format(time.RFC3339), drop.ErrChanged)
	}
	return nil
}

// changedOr is drop.ErrChanged for a listed file and other for a plain download.
func changedOr(listed *drop.Entry, other error) error {
	if listed != nil {
		return drop.ErrChanged
	}
	return other
}

// errPastSize stops a download that goes on past the file's size.
var errPastSize = errors.New("more bytes than the file's size")

// capWriter passes on at most left-1 bytes: the left-th byte (one past the
// file's size) fails the write with errPastSize, so a server that never
// stops sending is cut off there.
type capWriter struct {
	w    io.Writer
	left int64
}

// Write passes b on while within the cap.
func (c *capWriter) Write(b []byte) (int, error) {
	if int64(len(b)) >= c.left {
		n, err := c.w.Write(b[:c.left-1])
		c.left -= int64(n)
		if err == nil {
			err = errPastSize
		}
		return n, err
	}
	n, err := c.w.Write(b)
	c.left -= int64(n)
	return n, err
}

// progress kicks the watchdog on every write.
type progress struct {
	w    io.Writer
	kick func()
}

// Write passes p on and records progress.
func (p progress) Write(b []byte) (int, error) {
	p.kick()
	return p.w.Write(b)
}

// Remove deletes the file at p; a file that does not exist is not an error.
func (d *Drop) Remove(ctx context.Context, p string) error {
	err := d.do(ctx, "remove", p, func(func()) error {
		return d.sftp.Remove(p)
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// Rename moves oldpath to newpath, replacing it atomically when the server
// has posix-rename@openssh.com; otherwise a plain rename, which fails on
// most servers when newpath exists.
func (d *Drop) Rename(ctx context.Context, oldpath, newpath string) error {
	return d.do(ctx, "rename", oldpath, func(func()) error {
		return d.rename(oldpath, newpath)
	})
}

// rename picks posix-rename when available.
func (d *Drop) rename(oldpath, newpath string) error {
	if d.posixRename {
		return d.sftp.PosixRename(oldpath, newpath)
	}
	return d.sftp.Rename(oldpath, newpath)
}

// Stat returns the attributes of p (following symbolic links).
func (d *Drop) Stat(ctx context.Context, p string) (fs.FileInfo, error) {
	var fi fs.FileInfo
	err := d.do(ctx, "stat", p, func(func()) error {
		var err error
		fi, err = d.sftp.Stat(p)
		return err
	})
	return fi, err
}
