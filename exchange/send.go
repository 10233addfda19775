package exchange

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"go.yaml.in/yaml/v3"

	"github.com/sealpost/sealpost/exchange/audit"
	"github.com/sealpost/sealpost/exchange/bundle"
	"github.com/sealpost/sealpost/internal/fsx"
	"github.com/sealpost/sealpost/internal/progress"
	"github.com/sealpost/sealpost/internal/safeopen"
)

// SendRequest is what `sealpost send` queues: PATHs as one bundle.
type SendRequest struct {
	To        string
	Reference string // "" means the first PATH's name
	ReplyTo   string // a bundle id: the bundle becomes a response
	Paths     []string
}

// Send queues the request's PATHs in the partner's outbox as one folder
// item, atomically: it is copied under a hidden name, synced, and renamed
// into place with a READY marker, so the next push picks it up at once and
// never sees half of it. It returns the item's name in the outbox. Once
// ctx is done the copy stops and nothing is queued. A partner that is not
// configured is a *ConfigError; a request it cannot queue as asked (its
// fields, a PATH that cannot be read or sent) is a *RequestError.
func (e *Engine) Send(ctx context.Context, req SendRequest) (string, error) {
	if _, err := e.cfg.Partner(req.To); err != nil {
		return "", &ConfigError{err}
	}
	if req.ReplyTo != "" && !bundle.ValidID(req.ReplyTo) {
		return "", &RequestError{fmt.Errorf("the request's ReplyTo %q is not a bundle id (a lowercase UUID)", req.ReplyTo)}
	}
	if len(req.Paths) == 0 {
		return "", &RequestError{fmt.Errorf("the request names no PATH to send")}
	}
	if len(req.Reference) > bundle.MaxReference {
		return "", &RequestError{fmt.Errorf("the request's Reference is %d bytes, more than %d", len(req.Reference), bundle.MaxReference)}
	}
	if req.Reference == "" {
		req.Reference = filepath.Base(req.Paths[0])
	}
	outbox := e.dirs.outbox(req.To)
	name := "send-" + bundle.NewID()
	tmp := filepath.Join(outbox, "."+name+".tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return "", fmt.Errorf("queue for %s: %w", req.To, err)
	}
	var total int64
	for _, p := range req.Paths {
		total += progress.TreeSize(p)
	}
	task := progress.Start(e.progress, "queue "+req.Reference, total)
	err := e.fillItem(tmp, req, progress.StopOn(ctx, task))
	task.Done()
	if err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	if err := fsx.Rename(tmp, filepath.Join(outbox, name)); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("queue for %s: %w", req.To, err)
	}
	_, err = e.log.Append(audit.Record{Event: audit.EvQueued, Outcome: "ok", Self: e.cfg.Identity.ID,
		Partner: req.To, File: name, Reference: req.Reference, InReplyTo: req.ReplyTo})
	return name, err
}

// fillItem copies the PATHs into the item folder dir, each at its base
// name, and writes bundle.yaml and READY.
func (e *Engine) fillItem(dir string, req SendRequest, task io.Writer) error {
	for _, p := range req.Paths {
		base := filepath.Base(p)
		if base == "bundle.yaml" || base == readyMarker {
			return &RequestError{fmt.Errorf("%s: a file named %s cannot be sent at the top of a bundle; put it in a folder", p, base)}
		}
		if exists(filepath.Join(dir, base)) {
			return &RequestError{fmt.Errorf("%s: two PATHs are named %s; each needs its own name in the bundle", p, base)}
		}
		if err := copyTree(p, filepath.Join(dir, base), task); err != nil {
			return err
		}
	}
	meta, err := yaml.Marshal(map[string]string{"reference": req.Reference, "in_reply_to": req.ReplyTo})
	if err != nil {
		return err
	}
	if err := fsx.WriteFile(filepath.Join(dir, "bundle.yaml"), meta, 0o600); err != nil {
		return err
	}
	if err := fsx.WriteFile(filepath.Join(dir, readyMarker), nil, 0o600); err != nil {
		return err
	}
	return fsx.SyncTree(dir)
}

// copyTree copies a regular file or a folder of regular files from src to
// dst, syncing each file, and writes a copy of the bytes to task. Every
// entry is judged on its open descriptor (safeopen.Walk): symbolic links,
// hard-linked files and special files, at any depth, are refused, and so is
// an entry swapped for a link while it is copied.
func copyTree(src, dst string, task io.Writer) error {
	var werr error // an error writing the copy, not reading src
	err := safeopen.Walk(src, func(rel string, in *os.File, _ fs.FileInfo) error {
		target := filepath.Join(dst, filepath.FromSlash(rel))
		if in == nil {
			werr = fsx.MkdirAll(target, 0o700)
		} else {
			werr = copyFile(in, target, task)
		}
		return werr
	})
	switch {
	case err == nil || err == werr:
		return err
	case errors.Is(err, safeopen.ErrUnsafe):
		return &RequestError{fmt.Errorf("%w (links and special files are never sent)", err)}
	}
	return &RequestError{fmt.Errorf("read %s: %w", src, err)}
}

// copyFile copies the open regular file in to a new file dst and syncs the
// copy; dst must not exist, not even as a link.
func copyFile(in *os.File, dst string, task io.Writer) error {
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("copy %s: %w", in.Name(), err)
	}
	if _, err := io.Copy(io.MultiWriter(out, task), in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", in.Name(), err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", in.Name(), err)
	}
	return out.Close()
}
