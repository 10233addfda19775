// Package bundlefile seals and opens a bundle as a file, without any
// transfer (`sealpost bundle seal` and `sealpost bundle open`): a client of
// the engine's configuration and keys, and of package exchange/sealed that
// the engine's push and pull use for the same bundles on the drop.
package bundlefile

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/exchange"
	"github.com/sealpost/sealpost/exchange/bundle"
	"github.com/sealpost/sealpost/exchange/sealed"
	"github.com/sealpost/sealpost/internal/fsx"
	"github.com/sealpost/sealpost/internal/progress"
)

// SealOptions are the choices of SealFile.
type SealOptions struct {
	Output   string            // the file to write; "" means the bundle's drop name in the current folder
	Progress exchange.Progress // told how the sealing advances; nil: nobody
}

// SealFile seals the request's PATHs into one bundle file for its partner,
// without any transfer (`sealpost bundle seal`). It returns the manifest
// and the path written. Once ctx is done the sealing stops and no file is
// left. A partner that is not configured is an *exchange.ConfigError, a
// PATH that cannot be sealed an *exchange.RequestError.
func SealFile(ctx context.Context, cfg *config.Config, keys *exchange.Keys, req exchange.SendRequest, opt SealOptions) (*bundle.Manifest, string, error) {
	p, err := cfg.Partner(req.To)
	if err != nil {
		return nil, "", &exchange.ConfigError{Err: err}
	}
	srcs, err := bundle.SourcesForPaths(req.Paths)
	if err != nil {
		return nil, "", &exchange.RequestError{Err: err}
	}
	m := &bundle.Manifest{Format: bundle.Format, ID: bundle.NewID(), Kind: bundle.KindRequest,
		Sender: cfg.Identity.ID, Recipient: p.ID, Created: time.Now().UTC().Truncate(time.Second),
		Reference: req.Reference, InReplyTo: req.ReplyTo, Files: []bundle.File{}}
	if m.InReplyTo != "" {
		m.Kind = bundle.KindResponse
	}
	if m.Reference == "" && len(req.Paths) > 0 {
		m.Reference = filepath.Base(req.Paths[0])
	}
	out := opt.Output
	if out == "" {
		out = bundle.FileName(m, p.PGP.Armor)
	}
	f, err := fsx.CreateTemp(out, 0o600)
	if err != nil {
		return nil, "", fmt.Errorf("create %s: %w", out, err)
	}
	task := progress.Start(opt.Progress, "seal "+filepath.Base(out), bundle.SourcesSize(srcs))
	defer task.Done()
	w := bufio.NewWriterSize(io.MultiWriter(f, progress.StopOn(ctx, task)), 256<<10)
	pair := sealed.Pair{Self: keys.Self(), Peer: keys.Peer(p.ID), Partner: p, SelfID: cfg.Identity.ID}
	if err := pair.Seal(w, m, srcs, nil); err != nil {
		f.Abort()
		return nil, "", err
	}
	if err := w.Flush(); err != nil {
		f.Abort()
		return nil, "", fmt.Errorf("write %s: %w", out, err)
	}
	return m, out, f.Commit()
}

// OpenOptions are the choices of OpenFile.
type OpenOptions struct {
	From     string            // the partner that sent the file; "" takes the sender from the file's name
	Progress exchange.Progress // told how the reading of the file advances; nil: nobody
}

// OpenFile verifies a bundle file and unpacks it into dir (created if
// missing, and must be empty), without any transfer (`sealpost bundle
// open`). On any failure, and once ctx is done, dir is left empty. A
// partner that is not configured is an *exchange.ConfigError; a file or
// folder that cannot be used as asked an *exchange.RequestError; a bundle
// that fails verification a *RefusedError.
func OpenFile(ctx context.Context, cfg *config.Config, keys *exchange.Keys, path, dir string, opt OpenOptions) (*bundle.Manifest, error) {
	from := opt.From
	if from == "" {
		n, ok := bundle.ParseFileName(filepath.Base(path))
		if !ok {
			return nil, &exchange.RequestError{Err: fmt.Errorf("%s: the file name does not say who sent it; give --from PARTNER", path)}
		}
		from = n.Sender
	}
	p, err := cfg.Partner(from)
	if err != nil {
		return nil, &exchange.ConfigError{Err: err}
	}
	if err := prepareOutputFolder(dir); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, &exchange.RequestError{Err: err}
	}
	defer f.Close()
	var size int64
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	task := progress.Start(opt.Progress, "open "+filepath.Base(path), size)
	defer task.Done()
	pair := sealed.Pair{Self: keys.Self(), Peer: keys.Peer(p.ID), Partner: p, SelfID: cfg.Identity.ID}
	m, err := pair.Open(bufio.NewReaderSize(io.TeeReader(f, progress.StopOn(ctx, task)), 256<<10), dir)
	if err == nil {
		return m, nil
	}
	clearDir(dir)
	if code := sealed.RefusalCode(err); code != "" {
		return nil, &RefusedError{Code: code, Err: fmt.Errorf("%s: %w", path, err)}
	}
	return nil, err
}

// prepareOutputFolder makes the output folder dir if missing, checking it
// before and after (checkOutputFolder), and refuses one that is not empty.
func prepareOutputFolder(dir string) error {
	if err := checkOutputFolder(dir); err != nil {
		return &exchange.RequestError{Err: err}
	}
	if err := fsx.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if err := checkOutputFolder(dir); err != nil {
		return &exchange.RequestError{Err: err}
	}
	if ents, _ := os.ReadDir(dir); len(ents) > 0 {
		return &exchange.RequestError{Err: fmt.Errorf("output folder %s is not empty", dir)}
	}
	return nil
}

// checkOutputFolder refuses an output folder that another user controls,
// before and again after it is made: a symbolic link (planted in a shared
// folder, it chooses where we write), a folder that group or others may
// write to, or sits below a folder they may write to without the sticky bit
// (they could rename it away and put theirs), and a folder that belongs, or
// sits below a folder that belongs, to a user other than root and us
// (config.CheckOwner): whoever controls it could replace what we decrypt
// after it is verified.
func checkOutputFolder(dir string) error {
	if fi, err := os.Lstat(dir); err == nil {
		if fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("output folder %s is a symbolic link; give the folder it points to", dir)
		}
		if perm := fi.Mode().Perm(); perm&0o022 != 0 {
			return fmt.Errorf("output folder %s has mode %04o: others may put or replace files in it; run chmod go-w %s", dir, perm, dir)
		}
	}
	if open, mode := config.OpenFolder(dir); open != "" {
		return fmt.Errorf("output folder %s is below folder %s, which others may write to (mode %04o, no sticky bit) and rename it in; run chmod go-w %s",
			dir, open, mode, open)
	}
	if err := config.CheckOwner(dir); err != nil {
		return fmt.Errorf("output folder: %w", err)
	}
	return nil
}

// RefusedError is a bundle that failed verification; Code is its receipt
// code (SPEC §2).
type RefusedError struct {
	Code string
	Err  error
}

func (e *RefusedError) Error() string { return fmt.Sprintf("bundle refused (%s): %v", e.Code, e.Err) }
func (e *RefusedError) Unwrap() error { return e.Err }

// clearDir removes everything inside dir.
func clearDir(dir string) {
	ents, _ := os.ReadDir(dir)
	for _, de := range ents {
		os.RemoveAll(filepath.Join(dir, de.Name()))
	}
}
