package exchange

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
	"github.com/sealpost/sealpost/crypto"
	"github.com/sealpost/sealpost/exchange/bundle"
	"github.com/sealpost/sealpost/internal/fsx"
)

// SealOptions are the choices of SealFile.
type SealOptions struct {
	Output   string   // the file to write; "" means the bundle's drop name in the current folder
	Progress Progress // told how the sealing advances; nil: nobody
}

// SealFile seals the request's PATHs into one bundle file for its partner,
// without any transfer (`sealpost bundle seal`). It returns the manifest
// and the path written. Once ctx is done the sealing stops and no file is
// left.
func SealFile(ctx context.Context, cfg *config.Config, keys *Keys, req SendRequest, opt SealOptions) (*bundle.Manifest, string, error) {
	p, err := cfg.Partner(req.To)
	if err != nil {
		return nil, "", &ConfigError{err}
	}
	srcs, err := bundle.SourcesForPaths(req.Paths)
	if err != nil {
		return nil, "", &ConfigError{err}
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
	task := startTask(opt.Progress, "seal "+filepath.Base(out), sourcesSize(srcs))
	defer task.Done()
	w := bufio.NewWriterSize(io.MultiWriter(f, stopOn(ctx, task)), 256<<10)
	if err := sealBundle(w, keys.self, keys.peers[p.ID], p, m, srcs, nil); err != nil {
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
	From     string   // the partner that sent the file; "" takes the sender from the file's name
	Progress Progress // told how the reading of the file advances; nil: nobody
}

// OpenFile verifies a bundle file and unpacks it into dir (created if
// missing, and must be empty), without any transfer (`sealpost bundle
// open`). On any failure, and once ctx is done, dir is left empty.
func OpenFile(ctx context.Context, cfg *config.Config, keys *Keys, path, dir string, opt OpenOptions) (*bundle.Manifest, error) {
	from := opt.From
	if from == "" {
		n, ok := bundle.ParseFileName(filepath.Base(path))
		if !ok {
			return nil, &ConfigError{fmt.Errorf("%s: the file name does not say who sent it; give --from PARTNER", path)}
		}
		from = n.Sender
	}
	p, err := cfg.Partner(from)
	if err != nil {
		return nil, &ConfigError{err}
	}
	if err := checkOutputFolder(dir); err != nil {
		return nil, &ConfigError{err}
	}
	if err := fsx.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	if err := checkOutputFolder(dir); err != nil {
		return nil, &ConfigError{err}
	}
	if ents, _ := os.ReadDir(dir); len(ents) > 0 {
		return nil, &ConfigError{fmt.Errorf("output folder %s is not empty", dir)}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, &ConfigError{err}
	}
	defer f.Close()
	var size int64
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	task := startTask(opt.Progress, "open "+filepath.Base(path), size)
	defer task.Done()
	msg, err := crypto.Open(bufio.NewReaderSize(io.TeeReader(f, stopOn(ctx, task)), 256<<10), keys.self, keys.peers[p.ID], crypto.OpenOptions{MaxBytes: p.Limits.MaxBytes})
	if err == nil {
		var m *bundle.Manifest
		m, err = bundle.Read(msg, dir, bundle.Limits{MaxBytes: p.Limits.MaxBytes, MaxFiles: p.Limits.MaxFiles},
			bundle.Expect{Sender: p.ID, Recipient: cfg.Identity.ID})
		if err == nil {
			return m, nil
		}
	}
	clearDir(dir)
	if code := refusalCode(err); code != "" {
		return nil, &RefusedError{Code: code, Err: fmt.Errorf("%s: %w", path, err)}
	}
	return nil, err
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
