package sftpdrop

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// maxBackoff caps the wait between attempts.
const maxBackoff = 5 * time.Minute

// Retry runs fn up to attempts times while it fails with an error that is
// not permanent (see IsPermanent), waiting a random time between 0 and
// base·2ⁿ (capped at 5 minutes) before attempt n+1 ("full jitter"). It
// stops when ctx ends. It returns nil, the permanent error, or the last
// error wrapped with the number of attempts.
func Retry(ctx context.Context, attempts int, base time.Duration, fn func() error) error {
	return retrier{sleep: sleepCtx, jitter: rand.Int64N}.run(ctx, attempts, base, fn)
}

// retrier holds Retry's clock and randomness, replaceable in tests.
type retrier struct {
	sleep  func(context.Context, time.Duration) error
	jitter func(n int64) int64 // uniform in [0, n)
}

// run is Retry.
func (r retrier) run(ctx context.Context, attempts int, base time.Duration, fn func() error) error {
	if err := context.Cause(ctx); err != nil {
		return err
	}
	var err error
	for i := range max(attempts, 1) {
		if i > 0 {
			if serr := r.sleep(ctx, r.backoff(base, i-1)); serr != nil {
				return fmt.Errorf("gave up after %d attempts (%w): %w", i, serr, err)
			}
		}
		if err = fn(); err == nil || IsPermanent(err) {
			return err
		}
	}
	return fmt.Errorf("gave up after %d attempts: %w", max(attempts, 1), err)
}

// backoff returns a uniform random wait in [0, min(base·2ⁿ, maxBackoff)].
func (r retrier) backoff(base time.Duration, n int) time.Duration {
	if base <= 0 {
		return 0
	}
	ceiling := maxBackoff
	if n < 32 && base<<n > 0 && base<<n < maxBackoff {
		ceiling = base << n
	}
	return time.Duration(r.jitter(int64(ceiling) + 1))
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}
