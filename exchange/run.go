package exchange

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"

	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/crypto"
	"github.com/sealpost/sealpost/exchange/audit"
	"github.com/sealpost/sealpost/exchange/localdrop"
	"github.com/sealpost/sealpost/exchange/sftpdrop"
)

// partnerRun is one cycle for one partner, under that partner's lock.
type partnerRun struct {
	e    *Engine
	id   string
	p    *config.Partner
	peer *crypto.Peer
	res  *Result
	drop *retrier // the connection to the partner's drop, dialled on first use

	// refusedTooLarge holds "<bytes> <name>" of every remote file the log
	// says was refused unread for its size; read from the log once, at
	// the run's first oversized file (see refusedUnread).
	refusedTooLarge map[string]bool

	mu sync.Mutex // guards res: claims are pushed concurrently
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
	if t := r.drop.current(); t != nil && rec.Host == "" {
		rec.Host, rec.HostKey, rec.User = t.Address(), t.HostKey(), r.p.SFTP.User
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

// newPartnerRun returns the cycle for partner p, its results in res.
func (e *Engine) newPartnerRun(id string, p *config.Partner, res *Result) *partnerRun {
	r := &partnerRun{e: e, id: id, p: p, peer: e.keys.peers[id], res: res}
	r.drop = newRetrier(r.dial, e.logger.With("partner", id))
	return r
}

// dial connects to the partner's drop: opens it when we host it on this
// machine, else logs in to the partner's SFTP server.
func (r *partnerRun) dial(ctx context.Context) (Transport, error) {
	if l := r.p.Local; l != nil {
		d, err := localdrop.Open(localdrop.Config{Root: l.Root})
		if err != nil {
			return nil, fmt.Errorf("partner %s: %w", r.id, err)
		}
		return d, nil
	}
	s := r.p.SFTP
	d, err := sftpdrop.Dial(ctx, sftpdrop.Config{Address: s.Address, User: s.User,
		KeyFile: s.PrivateKey, KnownHosts: s.KnownHosts, Timeout: s.Timeout})
	if err != nil {
		return nil, fmt.Errorf("partner %s: connect to %s@%s: %w", r.id, s.User, s.Address, err)
	}
	return d, nil
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

// withRetry runs fn through the run's retrier (see retrier.do).
func (r *partnerRun) withRetry(ctx context.Context, fn func(t Transport) error) error {
	return r.drop.do(ctx, fn)
}

// close closes the run's connection, if any.
func (r *partnerRun) close() { r.drop.close() }
