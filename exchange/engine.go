// Package exchange is sealpost's engine: it pushes what operators queue for a
// partner (outbox → sealed bundle → the partner's SFTP drop), pulls what the
// partner left for us (drop → verified bundle → inbox or quarantine),
// answers each bundle with a signed receipt, recovers half-done work after a
// crash, and records every step in the exchange log.
//
// The folders under state_dir are the state. Every step leaves either the
// old state or the new one on disk (temporary name, fsync, rename), and each
// run first finishes whatever an earlier, interrupted run left in work/.
// The states a push and a pull can be left in, the files that mark each and
// the step a run resumes with are tabled in docs/states.md and declared in
// state.go, where the crash tests read them.
package exchange

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/exchange/audit"
	"github.com/sealpost/sealpost/exchange/drop"
	"github.com/sealpost/sealpost/internal/fsx"
)

// Engine runs exchanges for the partners of one configuration.
type Engine struct {
	cfg    *config.Config
	dirs   layout
	keys   *Keys
	log    *audit.Log
	logger *slog.Logger
	now    func() time.Time

	progress Progress           // optional: see SetProgress
	onRecord func(audit.Record) // optional: see OnRecord
}

// ConfigError marks an error in the configuration or in a file it names
// (a key that does not load, a partner that does not exist): nothing was
// done, and the command line exits 2.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// RequestError marks a request the engine refuses as asked (a SendRequest
// whose ReplyTo is not a bundle id, with no PATH, a Reference too long, a
// PATH it cannot read or may not send): nothing was done, and the command
// line exits 2. Its message names the request's field or the PATH.
type RequestError struct{ Err error }

func (e *RequestError) Error() string { return e.Err.Error() }
func (e *RequestError) Unwrap() error { return e.Err }

// New loads our key and every partner's keys, creates the state folders and
// opens the exchange log. Errors about keys are *ConfigError.
func New(cfg *config.Config, logger *slog.Logger) (*Engine, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	e := &Engine{cfg: cfg, dirs: layout{root: cfg.StateDir}, logger: logger, now: time.Now}
	var err error
	if e.keys, err = LoadKeys(cfg); err != nil {
		return nil, err
	}
	for _, id := range cfg.PartnerIDs() {
		for _, d := range e.dirs.partnerDirs(id) {
			if err := fsx.MkdirAll(d, 0o700); err != nil {
				return nil, fmt.Errorf("create state folder %s: %w", d, err)
			}
		}
	}
	if e.log, err = audit.OpenWith(e.dirs.audit(), logOptions(cfg.Audit)); err != nil {
		return nil, fmt.Errorf("open exchange log in %s: %w", e.dirs.audit(), err)
	}
	return e, nil
}

// Close closes the exchange log.
func (e *Engine) Close() error { return e.log.Close() }

// Config returns the configuration the engine runs with.
func (e *Engine) Config() *config.Config { return e.cfg }

// RunOptions selects what one cycle does.
type RunOptions struct {
	Partner  string // "" means every partner (Run only)
	PushOnly bool   // push only: no pull
	PullOnly bool   // pull only: receipts owed are pushed, outbox items are not
}

// Result counts what one partner's cycle did.
type Result struct {
	Partner  string
	Pushed   int // bundles uploaded (receipts included)
	Filed    int // bundles filed in the inbox
	Refused  int // bundles quarantined
	Receipts int // receipts received
	Failed   int // outbox items moved to failed/
	Err      error
}

// Run performs one exchange cycle for each selected partner, one after the
// other. A partner whose lock is held by another run is skipped with
// ErrLocked. The returned error joins every partner's error.
func (e *Engine) Run(ctx context.Context, opt RunOptions) ([]Result, error) {
	e.WarnKeys()
	ids := e.cfg.PartnerIDs()
	if opt.Partner != "" {
		if _, err := e.cfg.Partner(opt.Partner); err != nil {
			return nil, &ConfigError{err}
		}
		ids = []string{opt.Partner}
	}
	var results []Result
	var errs []error
	for _, id := range ids {
		if ctx.Err() != nil {
			break
		}
		r := e.RunPartner(ctx, RunOptions{Partner: id, PushOnly: opt.PushOnly, PullOnly: opt.PullOnly})
		results = append(results, r)
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	return results, errors.Join(errs...)
}

// RunPartner runs one cycle for the partner opt.Partner (a configured
// partner's id) under its lock: recovery of half-done work, then pull
// (unless PushOnly), then push (outbox items unless PullOnly; receipts owed
// are always pushed).
func (e *Engine) RunPartner(ctx context.Context, opt RunOptions) Result {
	partner := opt.Partner
	res := Result{Partner: partner}
	lock, err := acquireLock(e.dirs.lock(partner), partner)
	if err != nil {
		res.Err = err
		return res
	}
	defer lock.release()
	r := e.newPartnerRun(partner, e.cfg.Partners[partner], &res)
	defer r.close()
	if d := r.p.RunDeadline; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, d, fmt.Errorf("the run for %s took longer than run_deadline (%s): %w", partner, d, drop.ErrDeadline))
		defer cancel()
	}
	res.Err = r.cycle(ctx, !opt.PullOnly, !opt.PushOnly)
	return res
}

func (e *Engine) partnerIDsOr(partner string) ([]string, error) {
	if partner == "" {
		return e.cfg.PartnerIDs(), nil
	}
	if _, err := e.cfg.Partner(partner); err != nil {
		return nil, &ConfigError{err}
	}
	return []string{partner}, nil
}

// isDir reports whether path exists and is a folder.
func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// exists reports whether path exists (without following a final link).
func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// logged reports whether the exchange log holds an ok record of event for
// the partner's bundle. It reads the whole log, so only recovery uses it:
// to tell whether an interrupted run recorded its last step.
func (e *Engine) logged(event, partner, bundleID string) bool {
	return e.loggedWhere(func(rec audit.Record) bool {
		return rec.Event == event && rec.Partner == partner && rec.Bundle == bundleID && rec.Outcome == audit.OutcomeOK
	})
}

// loggedWhere reports whether the exchange log holds a record for which
// match is true; like logged, for recovery only.
func (e *Engine) loggedWhere(match func(audit.Record) bool) bool {
	found := false
	audit.Scan(e.dirs.audit(), func(rec audit.Record) error {
		if match(rec) {
			found = true
			return errFound
		}
		return nil
	})
	return found
}

// errFound stops a log scan at the record looked for.
var errFound = errors.New("found")
