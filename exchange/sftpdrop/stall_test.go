package sftpdrop

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/sealpost/sealpost/exchange/drop"
	"github.com/sealpost/sealpost/internal/faultproxy"
	"github.com/sealpost/sealpost/internal/testworld"
)

// stallTimeout is Config.Timeout in the stall tests.
const stallTimeout = time.Second

// viaProxy returns srv's config pointed at p with the short timeout.
func viaProxy(t testing.TB, srv testServer, p *faultproxy.Proxy) Config {
	cfg := srv.cfg
	cfg.Address, cfg.Timeout = p.Addr(), stallTimeout
	cfg.KnownHosts = writeKnownHosts(t, knownhosts.Line([]string{p.Addr()}, keyFromLine(t, srv.hostKeyLine)))
	return cfg
}

// checkBounded asserts err is a timeout that came within 2×stallTimeout.
func checkBounded(t *testing.T, what string, err error, since time.Time) {
	t.Helper()
	elapsed := time.Since(since)
	if !errors.Is(err, ErrTimeout) || drop.IsPermanent(err) {
		t.Errorf("%s = %v, want a retryable ErrTimeout", what, err)
	}
	if elapsed > 2*stallTimeout {
		t.Errorf("%s failed after %v, want within %v", what, elapsed, 2*stallTimeout)
	}
}

func TestStalledServer(t *testing.T) {
	eachServer(t, func(t *testing.T, srv testServer) {
		srv.mkdir(t, "pull", "push")
		data := randomBytes(t, 8<<20)
		writeLocal(t, srv.local("pull", "big.pgp"), data)

		t.Run("dial", func(t *testing.T) {
			p := startProxy(t, srv.cfg.Address, false, 100) // the banner passes, the key exchange does not
			start := time.Now()
			_, err := Dial(context.Background(), viaProxy(t, srv, p))
			checkBounded(t, "Dial", err, start)
		})
		t.Run("download", func(t *testing.T) {
			p := startProxy(t, srv.cfg.Address, false, -1)
			d := dial(t, viaProxy(t, srv, p))
			p.SetBudget(1 << 20)
			start := time.Now()
			_, err := d.Download(context.Background(), srv.remote("pull"), "big.pgp", io.Discard)
			checkBounded(t, "Download", err, start)
			if _, _, err := d.List(context.Background(), srv.remote("pull")); !errors.Is(err, ErrTimeout) {
				t.Errorf("List after the stall = %v, want the recorded ErrTimeout", err)
			}
		})
		t.Run("upload", func(t *testing.T) {
			p := startProxy(t, srv.cfg.Address, false, -1)
			d := dial(t, viaProxy(t, srv, p))
			u, err := d.Create(context.Background(), srv.remote("push"), "up.pgp")
			if err != nil {
				t.Fatal(err)
			}
			p.SetBudget(1 << 20)
			start := time.Now()
			_, err = io.Copy(u, bytes.NewReader(data))
			if err == nil {
				err = u.Commit(context.Background(), int64(len(data)))
			}
			checkBounded(t, "upload", err, start)
			if err := u.Commit(context.Background(), int64(len(data))); err == nil {
				t.Error("Commit succeeded after a failed write")
			}
			assertMissing(t, srv.local("push", "up.pgp"))
		})
		t.Run("keepalive", func(t *testing.T) {
			p := startProxy(t, srv.cfg.Address, false, -1)
			d := dial(t, viaProxy(t, srv, p))
			p.SetBudget(0)
			testworld.WaitFor(t, 2*stallTimeout, "a keepalive failure of the idle stalled connection", func() bool { return d.failed() != nil })
			if err := d.failed(); !errors.Is(err, ErrTimeout) {
				t.Fatalf("idle stalled connection: failure = %v, want a keepalive ErrTimeout within %v", err, 2*stallTimeout)
			}
		})
	})
}

func TestKeepaliveKeepsHealthyConnection(t *testing.T) {
	eachServer(t, func(t *testing.T, srv testServer) {
		srv.mkdir(t, "pull")
		p := startProxy(t, srv.cfg.Address, false, -1)
		d := dial(t, viaProxy(t, srv, p))
		time.Sleep(2 * stallTimeout) // several keepalive rounds while idle
		if err := d.failed(); err != nil {
			t.Fatalf("healthy idle connection was closed: %v", err)
		}
		if _, _, err := d.List(context.Background(), srv.remote("pull")); err != nil {
			t.Fatal(err)
		}
	})
}

// TestCutConnectionThenRetry: a download cut mid-way fails with an error
// that is not permanent, and a new connection then downloads the whole file.
func TestCutConnectionThenRetry(t *testing.T) {
	eachServer(t, func(t *testing.T, srv testServer) {
		srv.mkdir(t, "pull")
		data := randomBytes(t, 4<<20)
		writeLocal(t, srv.local("pull", "big.pgp"), data)
		p := startProxy(t, srv.cfg.Address, true, 256<<10) // enough to log in, not to download
		cfg := viaProxy(t, srv, p)
		var errs []error
		var got bytes.Buffer
		for range 2 {
			got.Reset()
			d, err := Dial(context.Background(), cfg)
			if err == nil {
				_, err = d.Download(context.Background(), srv.remote("pull"), "big.pgp", &got)
				d.Close()
			}
			if err == nil {
				break
			}
			errs = append(errs, err)
			p.SetBudget(-1) // healthy from now on
		}
		if len(errs) != 1 || drop.IsPermanent(errs[0]) || !bytes.Equal(got.Bytes(), data) {
			t.Fatalf("errors %v (content equal %v), want one retryable cut, then the whole file", errs, bytes.Equal(got.Bytes(), data))
		}
	})
}

// TestCancelStopsAStalledCall: a run cancelled while one of its calls
// waits on a stalled server stops at once with the context's error: the
// call returns within a quarter of the watchdog's timeout, where the
// watchdog alone would end it only after the whole timeout. An upload's
// writes are bounded by the context given to Create, its commit and
// abort by their own.
func TestCancelStopsAStalledCall(t *testing.T) {
	const watchdog = 10 * stallTimeout
	calls := map[string]func(ctx context.Context, d *Drop, u drop.Upload, dir string) error{
		"write": func(_ context.Context, _ *Drop, u drop.Upload, _ string) error {
			_, err := u.Write(make([]byte, uploadBuffer)) // a full buffer is sent at once
			return err
		},
		"commit": func(ctx context.Context, _ *Drop, u drop.Upload, _ string) error { return u.Commit(ctx, 0) },
		"abort":  func(ctx context.Context, _ *Drop, u drop.Upload, _ string) error { return u.Abort(ctx) },
		"stat": func(ctx context.Context, d *Drop, _ drop.Upload, dir string) error {
			_, err := d.Stat(ctx, dir)
			return err
		},
		"remove": func(ctx context.Context, d *Drop, _ drop.Upload, dir string) error {
			return d.Remove(ctx, dir+"/x.pgp")
		},
		"rename": func(ctx context.Context, d *Drop, _ drop.Upload, dir string) error {
			return d.Rename(ctx, dir+"/x.pgp", dir+"/y.pgp")
		},
		"list": func(ctx context.Context, d *Drop, _ drop.Upload, dir string) error {
			_, _, err := d.List(ctx, dir)
			return err
		},
	}
	eachServer(t, func(t *testing.T, srv testServer) {
		srv.mkdir(t, "push")
		for name, call := range calls {
			t.Run(name, func(t *testing.T) {
				p := startProxy(t, srv.cfg.Address, false, -1)
				cfg := viaProxy(t, srv, p)
				cfg.Timeout = watchdog
				d := dial(t, cfg)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				u, err := d.Create(ctx, srv.remote("push"), name+".pgp")
				if err != nil {
					t.Fatal(err)
				}
				if name != "write" { // the .part is complete on the server
					if err := u.(*Upload).Close(); err != nil {
						t.Fatal(err)
					}
				}
				p.SetBudget(0)
				done := make(chan error, 1)
				go func() { done <- call(ctx, d, u, srv.remote("push")) }()
				for p.Faults() == 0 { // the call's request is held
					time.Sleep(time.Millisecond)
				}
				start := time.Now()
				cancel()
				select {
				case err := <-done:
					if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
						t.Errorf("%s cancelled while stalled = %v, want context.Canceled", name, err)
					}
				case <-time.After(watchdog / 4):
					t.Fatalf("%s cancelled while stalled had not returned after %v (watchdog %v)", name, time.Since(start), watchdog)
				}
			})
		}
	})
}
