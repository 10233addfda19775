package sftpdrop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"testing"
	"time"

	"github.com/pkg/sftp"
)

// fakeClock records the waits a retrier asks for.
type fakeClock struct {
	waits    []time.Duration
	ceilings []int64
	cancel   context.CancelFunc // called at the given wait, if set
	cancelAt int
}

func (c *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	c.waits = append(c.waits, d)
	if c.cancel != nil && len(c.waits) == c.cancelAt {
		c.cancel()
	}
	return ctx.Err()
}

// jitter returns the largest allowed value, so waits show the ceilings.
func (c *fakeClock) jitter(n int64) int64 {
	c.ceilings = append(c.ceilings, n)
	return n - 1
}

func TestRetryBackoffDoublesWithFullJitter(t *testing.T) {
	c := &fakeClock{}
	r := retrier{sleep: c.sleep, jitter: c.jitter}
	calls := 0
	transient := errors.New("connection reset")
	err := r.run(context.Background(), 5, 100*time.Millisecond, func() error {
		calls++
		return transient
	})
	if !errors.Is(err, transient) || calls != 5 {
		t.Fatalf("run = %v after %d calls, want the last error after 5", err, calls)
	}
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond}
	if fmt.Sprint(c.waits) != fmt.Sprint(want) {
		t.Errorf("waits = %v, want %v (the ceilings)", c.waits, want)
	}
	// Full jitter: each wait is drawn from [0, ceiling].
	for i, n := range c.ceilings {
		if n != int64(want[i])+1 {
			t.Errorf("jitter range %d = [0,%d), want [0,%d)", i, n, int64(want[i])+1)
		}
	}
}

func TestRetryBackoffIsCapped(t *testing.T) {
	c := &fakeClock{}
	r := retrier{sleep: c.sleep, jitter: c.jitter}
	for _, n := range []int{10, 40, 70} {
		if got := r.backoff(time.Second, n); got != maxBackoff {
			t.Errorf("backoff(1s, %d) = %v, want the cap %v", n, got, maxBackoff)
		}
	}
	if got := r.backoff(0, 3); got != 0 {
		t.Errorf("backoff(0, 3) = %v, want 0", got)
	}
}

func TestRetryStopsOnSuccessAndPermanentErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		errs      []error
		wantCalls int
	}{
		"success at third":  {[]error{io.ErrUnexpectedEOF, io.ErrUnexpectedEOF, nil}, 3},
		"host key":          {[]error{&HostKeyError{Err: errors.New("x")}}, 1},
		"auth":              {[]error{fmt.Errorf("login: %w", ErrAuth)}, 1},
		"permission":        {[]error{fmt.Errorf("open: %w", fs.ErrPermission)}, 1},
		"timeout then auth": {[]error{ErrTimeout, ErrAuth}, 2},
	} {
		c := &fakeClock{}
		calls := 0
		err := retrier{sleep: c.sleep, jitter: c.jitter}.run(context.Background(), 5, time.Millisecond, func() error {
			calls++
			return tc.errs[calls-1]
		})
		if calls != tc.wantCalls || !errors.Is(err, tc.errs[len(tc.errs)-1]) && err != nil {
			t.Errorf("%s: %d calls, err %v; want %d calls", name, calls, err, tc.wantCalls)
		}
		if len(c.waits) != tc.wantCalls-1 {
			t.Errorf("%s: %d waits, want %d", name, len(c.waits), tc.wantCalls-1)
		}
	}
}

func TestRetryHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c := &fakeClock{cancel: cancel, cancelAt: 2}
	calls := 0
	err := retrier{sleep: c.sleep, jitter: c.jitter}.run(ctx, 10, time.Second, func() error {
		calls++
		return ErrTimeout
	})
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrTimeout) || calls != 2 {
		t.Fatalf("run = %v after %d calls, want cancellation after 2 calls", err, calls)
	}
}

func TestRetryRealSleepIsBounded(t *testing.T) {
	start := time.Now()
	calls := 0
	err := Retry(context.Background(), 3, 10*time.Millisecond, func() error {
		calls++
		return ErrTimeout
	})
	if !errors.Is(err, ErrTimeout) || calls != 3 || time.Since(start) > time.Second {
		t.Fatalf("Retry = %v, %d calls in %v", err, calls, time.Since(start))
	}
}

func TestIsPermanent(t *testing.T) {
	for err, want := range map[error]bool{
		nil:                          false,
		ErrTimeout:                   false,
		ErrSize:                      false,
		io.ErrUnexpectedEOF:          false,
		ErrHostKey:                   true,
		fmt.Errorf("x: %w", ErrAuth): true,
		ErrConfig:                    true,
		ErrName:                      true,
		fs.ErrNotExist:               true,
		fs.ErrPermission:             true,
		context.Canceled:             true,
		&sftp.StatusError{Code: uint32(sftp.ErrSSHFxPermissionDenied)}: true,
		&sftp.StatusError{Code: uint32(sftp.ErrSSHFxFailure)}:          false,
	} {
		if got := IsPermanent(err); got != want {
			t.Errorf("IsPermanent(%v) = %v, want %v", err, got, want)
		}
	}
}
