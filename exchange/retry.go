package exchange

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/sealpost/sealpost/exchange/drop"
)

// Attempts for transient transfer faults within one run.
const retryAttempts = 4

// retryBase sets the backoff between attempts: the first wait is at least
// retryBase and less than twice it (see backoff; the tests shorten it).
var retryBase = 500 * time.Millisecond

// retrier is the one retry of the program: every transfer with a
// partner's drop goes through its do. It owns the connection the run's
// workers share: it dials on first use, and after a failure closes and
// forgets that connection only, so that the next attempt dials again.
type retrier struct {
	dial   func(ctx context.Context) (Transport, error)
	logger *slog.Logger // told of each retry

	mu  sync.Mutex
	cur Transport // nil until dialled, and after a reset
}

// newRetrier returns a retrier that connects with dial.
func newRetrier(dial func(ctx context.Context) (Transport, error), logger *slog.Logger) *retrier {
	return &retrier{dial: dial, logger: logger}
}

// do runs fn with a live connection, up to retryAttempts times: after a
// transient fault it waits (see backoff), closes the connection when the
// fault may have broken it, and retries. Permanent errors (see
// drop.IsPermanent: host key and login failures among them), failures on
// our side (see isLocal) and the end of ctx are returned at once.
func (b *retrier) do(ctx context.Context, fn func(t Transport) error) error {
	var err error
	for attempt := range retryAttempts {
		if attempt > 0 {
			b.logger.Warn("transfer failed, retrying", "attempt", attempt, "err", err)
			if werr := sleepCtx(ctx, backoff(attempt)); werr != nil {
				return errors.Join(err, werr)
			}
		}
		var t Transport
		if t, err = b.conn(ctx); err == nil {
			if err = fn(t); err == nil {
				return nil
			}
		}
		if isLocal(err) || drop.IsPermanent(err) || ctx.Err() != nil {
			return err
		}
		if t != nil && !drop.IsAnswered(err) {
			b.reset(t)
		}
	}
	return err
}

// conn returns the current connection, dialling one when there is none.
// Workers wait for one another's dial, so that they share its result.
func (b *retrier) conn(ctx context.Context) (Transport, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cur != nil {
		return b.cur, nil
	}
	t, err := b.dial(ctx)
	if err != nil {
		return nil, err
	}
	b.cur = t
	return t, nil
}

// reset closes t, a connection that failed, and forgets it if it is still
// the current one. The workers share the connection: one whose operation
// failed on t must not close the one another worker has dialled since.
func (b *retrier) reset(t Transport) {
	b.mu.Lock()
	if b.cur == t {
		b.cur = nil
	}
	b.mu.Unlock()
	t.Close()
}

// current returns the current connection, nil when there is none.
func (b *retrier) current() Transport {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cur
}

// close closes the current connection, if any.
func (b *retrier) close() {
	b.mu.Lock()
	t := b.cur
	b.cur = nil
	b.mu.Unlock()
	if t != nil {
		t.Close()
	}
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
