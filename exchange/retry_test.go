package exchange

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/exchange/drop"
	"github.com/sealpost/sealpost/exchange/sftpdrop"
	"github.com/sealpost/sealpost/internal/sftpd"
)

// The SFTP drop is a Transport.
var _ Transport = (*sftpdrop.Drop)(nil)

// retryRun is a partnerRun with only what withRetry needs: a partner
// whose drop is the in-process SFTP server.
func retryRun(t *testing.T) *partnerRun {
	t.Helper()
	srv, err := sftpd.Start(t.TempDir(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	p := &config.Partner{ID: "uk", SFTP: config.SFTP{Address: srv.Addr, User: "sealpost",
		PrivateKey: srv.ClientKey, KnownHosts: srv.KnownHosts, Timeout: 10 * time.Second}}
	r := (&Engine{logger: slog.New(slog.DiscardHandler), keys: &Keys{}}).newPartnerRun(p.ID, p, &Result{})
	t.Cleanup(r.close)
	return r
}

// TestRetryResetsOnlyTheConnectionThatFailed runs two transfers through
// withRetry over one shared connection, in a fixed interleaving: both fail
// on connection D1; A dials D2 and is using it when B, whose failure on D1
// came later, retries. B must reuse D2, not close it under A.
func TestRetryResetsOnlyTheConnectionThatFailed(t *testing.T) {
	r := retryRun(t)
	ctx := t.Context()
	d1, err := r.drop.conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bOnD1, aOnD2, bRetried := make(chan struct{}, 1), make(chan Transport, 1), make(chan Transport, 1)
	aDone, aEnded, bEnded := make(chan error, 1), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(aEnded)
		calls := 0
		aDone <- r.withRetry(ctx, func(d Transport) error {
			calls++
			if calls == 1 { // the connection breaks under A, once B is using it too
				select {
				case <-bOnD1:
				case <-bEnded:
					return &localError{errors.New("B ended before using D1")}
				}
				d.Close()
				_, err := d.Stat(context.Background(), "/")
				return err
			}
			aOnD2 <- d
			select {
			case <-bRetried:
			case <-bEnded:
				return &localError{errors.New("B ended without retrying")}
			}
			_, err := d.Stat(context.Background(), "/") // A goes on using D2 after B's retry
			if err != nil || calls != 2 {
				return &localError{fmt.Errorf("attempt %d, on D2 after B's retry: %w", calls, err)}
			}
			return nil
		})
	}()
	calls := 0
	var d2 Transport
	err = r.withRetry(ctx, func(d Transport) error {
		calls++
		if calls == 1 {
			if d != d1 {
				return &localError{errors.New("B's first attempt is not on D1")}
			}
			bOnD1 <- struct{}{}
			select { // B's failure on D1 comes after A has dialled D2
			case d2 = <-aOnD2:
			case <-aEnded:
				return &localError{errors.New("A ended without dialling again")}
			}
			_, err := d.Stat(context.Background(), "/")
			return err
		}
		bRetried <- d // buffered
		if d != d2 {
			return &localError{errors.New("B dialled again instead of using A's new connection")}
		}
		_, err := d.Stat(context.Background(), "/")
		return err
	})
	close(bEnded)
	if err != nil {
		t.Fatalf("B: %v", err)
	}
	if err := <-aDone; err != nil {
		t.Fatalf("A's connection was closed by B's retry: %v", err)
	}
}

// TestRetryClassifiesAnyTransportsErrors: the retry asks only the error
// (drop.IsPermanent, drop.IsAnswered, isLocal, the context), so the plain
// errors a transport on local folders returns are classified as the SFTP
// drop's are: a missing file or refused permission is not retried, a size
// mismatch is retried on a new connection, a reply the far side answered
// is retried on the same one, and an ended run is not retried.
func TestRetryClassifiesAnyTransportsErrors(t *testing.T) {
	ended, cancel := context.WithCancel(t.Context())
	cancel()
	for _, c := range []struct {
		name       string
		ctx        context.Context
		err        error
		calls, new int // attempts made; connections used
	}{
		{"missing file", t.Context(), &fs.PathError{Op: "open", Path: "/drop/a.pgp", Err: syscall.ENOENT}, 1, 1},
		{"permission", t.Context(), &fs.PathError{Op: "rename", Path: "/drop/a.pgp", Err: syscall.EACCES}, 1, 1},
		{"changed", t.Context(), fmt.Errorf("a.pgp: %w", drop.ErrChanged), 1, 1},
		{"full disk", t.Context(), &fs.PathError{Op: "write", Path: "/in/a.pgp", Err: syscall.ENOSPC}, 1, 1},
		{"size", t.Context(), fmt.Errorf("a.pgp: %w", drop.ErrSize), retryAttempts, retryAttempts},
		{"answered", t.Context(), drop.Answered(io.ErrUnexpectedEOF), retryAttempts, 1},
		{"ended run", ended, io.ErrUnexpectedEOF, 1, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := retryRun(t)
			if _, err := r.drop.conn(t.Context()); err != nil { // dialled while the run was live
				t.Fatal(err)
			}
			calls, used := 0, map[Transport]bool{}
			err := r.withRetry(c.ctx, func(tr Transport) error {
				calls++
				used[tr] = true
				return c.err
			})
			if !errors.Is(err, c.err) || calls != c.calls || len(used) != c.new {
				t.Errorf("withRetry = %v after %d attempts on %d connections, want %v after %d on %d",
					err, calls, len(used), c.err, c.calls, c.new)
			}
		})
	}
}

// TestBackoffRange: the wait before attempt n is in [retryBase·2ⁿ⁻¹,
// retryBase·2ⁿ), as its comment says, and not always the same.
func TestBackoffRange(t *testing.T) {
	for n := 1; n < retryAttempts; n++ {
		lo, hi := retryBase<<(n-1), retryBase<<n
		seen := map[time.Duration]bool{}
		for range 100 {
			d := backoff(n)
			if d < lo || d >= hi {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v)", n, d, lo, hi)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Errorf("backoff(%d) gave %v 100 times: no jitter", n, seen)
		}
	}
}
