package exchange

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"syscall"
	"time"

	"github.com/pkg/sftp"

	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/crypto"
	"github.com/sealpost/sealpost/exchange/audit"
	"github.com/sealpost/sealpost/exchange/sftpdrop"
)

// Attempts for transient transfer faults within one run.
const retryAttempts = 4

// retryBase is the first backoff between attempts (the tests shorten it).
var retryBase = 500 * time.Millisecond

// partnerRun is one cycle for one partner, under that partner's lock.
type partnerRun struct {
	e    *Engine
	id   string
	p    *config.Partner
	peer *crypto.Peer
	res  *Result
	drop *sftpdrop.Drop // dialled on first use

	// refusedTooLarge holds "<bytes> <name>" of every remote file the log
	// says was refused unread for its size; read from the log once, at
	// the run's first oversized file (see refusedUnread).
	refusedTooLarge map[string]bool

	mu sync.Mutex // guards res and drop: claims are pushed concurrently
}

// count updates the run's counts.
func (r *partnerRun) count(fn func(*Result)) {
	r.mu.Lock()
	fn(r.res)
	r.mu.Unlock()
}

// cycle is recovery, pull, push, and a run.finished record.
func (r *partnerRun) cycle(ctx context.Context, push, pull bool) error {
	var errs []error
	if err := r.recoverIncoming(ctx); err != nil {
		errs = append(errs, err)
	}
	if pull {
		err := r.pull(ctx)
		r.finished(evPullFinished, err)
		errs = append(errs, err)
	}
	err := r.push(ctx, push)
	if push {
		r.finished(evPushFinished, err)
	}
	errs = append(errs, err)
	err = errors.Join(errs...)
	r.finished(audit.EvRunFinished, err)
	return err
}

// finished logs the end of a phase with its counts.
func (r *partnerRun) finished(event string, err error) {
	rec := audit.Record{Event: event, Partner: r.id, Detail: fmt.Sprintf(
		"pushed %d, filed %d, refused %d, receipts %d, failed %d",
		r.res.Pushed, r.res.Filed, r.res.Refused, r.res.Receipts, r.res.Failed)}
	r.record(rec, err)
}

// record appends rec to the exchange log with our id and the remote's
// identity filled in, outcome from err unless already set. A failure to log
// is reported to the operator's log: the step it records is then not done.
func (r *partnerRun) record(rec audit.Record, err error) error {
	rec.Self = r.e.cfg.Identity.ID
	if rec.Partner == "" {
		rec.Partner = r.id
	}
	if rec.Time == "" {
		rec.Time = r.e.now().UTC().Format(audit.TimeLayout) // the engine's one clock
	}
	r.mu.Lock()
	d := r.drop
	r.mu.Unlock()
	if d != nil && rec.Host == "" {
		rec.Host, rec.HostKey, rec.User = d.Address(), d.HostKey(), r.p.SFTP.User
	}
	if rec.Outcome == "" {
		rec.Outcome = "ok"
		if err != nil {
			rec.Outcome = "error"
		}
	}
	if err != nil && rec.Error == "" {
		rec.Error = err.Error()
	}
	appended, lerr := r.e.log.Append(rec)
	if lerr != nil {
		r.e.logger.Error("exchange log append failed", "event", rec.Event, "partner", r.id, "err", lerr)
		return fmt.Errorf("record %s for %s in the exchange log: %w", rec.Event, r.id, lerr)
	}
	r.e.observe(appended)
	return nil
}

// conn returns the connection to the partner's drop, dialling it on first
// use.
func (r *partnerRun) conn(ctx context.Context) (*sftpdrop.Drop, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.drop != nil {
		return r.drop, nil
	}
	s := r.p.SFTP
	d, err := sftpdrop.Dial(ctx, sftpdrop.Config{Address: s.Address, User: s.User,
		KeyFile: s.PrivateKey, KnownHosts: s.KnownHosts, Timeout: s.Timeout})
	if err != nil {
		return nil, fmt.Errorf("partner %s: connect to %s@%s: %w", r.id, s.User, s.Address, err)
	}
	r.drop = d
	return d, nil
}

// reset closes d, a connection that failed, and forgets it if it is still
// the current one, so that the next conn dials again. The push workers
// share the connection: a worker whose operation failed on d must not close
// the one another worker has dialled since.
func (r *partnerRun) reset(d *sftpdrop.Drop) {
	r.mu.Lock()
	if r.drop == d {
		r.drop = nil
	}
	r.mu.Unlock()
	d.Close()
}

// localError marks a failure on our side of a transfer (a file that cannot
// be read, a full disk): retrying the transfer at once would not help.
type localError struct{ err error }

func (e *localError) Error() string { return e.err.Error() }
func (e *localError) Unwrap() error { return e.err }

// isLocal reports whether err is a failure on our side that retrying the
// transfer at once would not cure: marked as local, or a full disk or
// quota wherever it surfaced.
func isLocal(err error) bool {
	var le *localError
	return errors.As(err, &le) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// withRetry runs fn with a live connection, up to retryAttempts times:
// after a transient fault it waits (see backoff), dials again when the
// connection itself failed, and retries. Host-key and login failures,
// other permanent errors, local errors and the end of ctx are returned at
// once. It is the one retry of the program: every transfer goes through it.
func (r *partnerRun) withRetry(ctx context.Context, fn func(d *sftpdrop.Drop) error) error {
	var err error
	for attempt := range retryAttempts {
		if attempt > 0 {
			r.e.logger.Warn("transfer failed, retrying", "partner", r.id, "attempt", attempt, "err", err)
			if werr := sleepCtx(ctx, backoff(attempt)); werr != nil {
				return errors.Join(err, werr)
			}
		}
		var d *sftpdrop.Drop
		if d, err = r.conn(ctx); err == nil {
			if err = fn(d); err == nil {
				return nil
			}
		}
		if isLocal(err) || sftpdrop.IsPermanent(err) || ctx.Err() != nil {
			return err
		}
		if d != nil && !serverAnswered(err) {
			r.reset(d)
		}
	}
	return err
}

// serverAnswered reports whether err is the server's reply to a request
// (an SFTP status other than a lost connection), so the connection itself
// still works and is kept for the other workers.
func serverAnswered(err error) bool {
	var se *sftp.StatusError
	if !errors.As(err, &se) {
		return false
	}
	code := se.FxCode()
	return code != sftp.ErrSSHFxConnectionLost && code != sftp.ErrSSHFxNoConnection
}

// backoff is the wait before retry attempt n (1, 2, ...): drawn uniformly
// from [c/2, c) with c = retryBase·2ⁿ, so that workers failing together do
// not retry together.
func backoff(n int) time.Duration {
	ceil := retryBase << n
	return ceil/2 + rand.N(ceil/2)
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close closes the run's connection, if any.
func (r *partnerRun) close() {
	r.mu.Lock()
	d := r.drop
	r.drop = nil
	r.mu.Unlock()
	if d != nil {
		d.Close()
	}
}
