package exchange_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sealpost/sealpost/exchange/audit"
	"github.com/sealpost/sealpost/exchange/bundle"
	"github.com/sealpost/sealpost/internal/testworld"
)

// buildSealpost returns the sealpost command, built once per test process.
func buildSealpost(t *testing.T) string { t.Helper(); return testworld.Binary(t) }

// syncBuffer is a bytes.Buffer safe to write from a process's output copier
// while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// daemon is a running `sealpost daemon`.
type daemon struct {
	t      *testing.T
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // cmd.Wait's error, set before done is closed
}

func startDaemon(t *testing.T, bin, cfg string) *daemon {
	t.Helper()
	d := &daemon{t: t, stderr: &syncBuffer{}, done: make(chan struct{})}
	d.cmd = exec.Command(bin, "--config", cfg, "daemon")
	d.cmd.Stdout, d.cmd.Stderr = d.stderr, d.stderr
	must(t, d.cmd.Start())
	go func() { d.err = d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		select {
		case <-d.done:
		default:
			d.cmd.Process.Kill()
			<-d.done
		}
	})
	d.waitLog("daemon started", 10*time.Second)
	return d
}

// waitLogN waits until the daemon's stderr holds s at least n times.
func (d *daemon) waitLogN(s string, n int, timeout time.Duration) {
	d.t.Helper()
	testworld.WaitFor(d.t, timeout, fmt.Sprintf("daemon logging %q (x%d)", s, n), func() bool {
		select {
		case <-d.done:
			d.t.Fatalf("daemon exited (%v) before logging %q:\n%s", d.err, s, d.stderr)
		default:
		}
		return strings.Count(d.stderr.String(), s) >= n
	}, d.stderr.String)
}

// waitLog waits until the daemon's stderr holds s.
func (d *daemon) waitLog(s string, timeout time.Duration) { d.t.Helper(); d.waitLogN(s, 1, timeout) }

// stop sends sig and waits for the daemon to exit, returning its
// exit status.
func (d *daemon) stop(sig os.Signal, timeout time.Duration) int {
	d.t.Helper()
	must(d.t, d.cmd.Process.Signal(sig))
	select {
	case <-d.done:
	case <-time.After(timeout):
		d.t.Fatalf("daemon still running %v after %v:\n%s", timeout, sig, d.stderr)
	}
	return d.cmd.ProcessState.ExitCode()
}

// uploadedRefs returns the references of the non-receipt bundles id's log
// records as uploaded. It tolerates a log being appended to concurrently.
func uploadedRefs(s *side) map[string]bool {
	refs := map[string]bool{}
	audit.Scan(s.state("audit"), func(r audit.Record) error {
		if r.Event == audit.EvUploaded && r.Outcome == audit.OutcomeOK && r.Kind != bundle.KindReceipt {
			refs[r.Reference] = true
		}
		return nil
	})
	return refs
}

// sendCLI queues one file with `sealpost send`.
func sendCLI(t *testing.T, bin string, s *side, to, ref string) {
	t.Helper()
	sendCLIWith(t, bin, s.cfgPath, to, ref)
}

// sendCLIWith queues one file with `sealpost --config cfg send`.
func sendCLIWith(t *testing.T, bin, cfg, to, ref string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), ref+".txt")
	must(t, os.WriteFile(f, []byte("body of "+ref), 0o600))
	out, err := exec.Command(bin, "--config", cfg, "send", "--to", to, "--ref", ref, f).CombinedOutput()
	if err != nil {
		t.Fatalf("send %s: %v\n%s", ref, err, out)
	}
}

// waitUploaded polls id's log until a bundle with reference ref is uploaded.
func waitUploaded(t *testing.T, d *daemon, s *side, ref string) {
	t.Helper()
	testworld.WaitFor(t, 20*time.Second, "bundle "+ref+" uploaded", func() bool { return uploadedRefs(s)[ref] },
		func() string { return "daemon log:\n" + d.stderr.String() })
}

// TestDaemon runs `sealpost daemon` on one-second schedules: it pushes what
// `send` queues, reloads its configuration on SIGHUP (refusing a broken one
// and keeping the old), and stops cleanly on SIGTERM.
func TestDaemon(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	bin := buildSealpost(t)
	w := newWorld(t, loopbackServer(t), "schedule:\n  push: \"@every 1s\"\n  pull: \"@every 1s\"\n", us, uk)
	s := w.sides[us]
	s.eng.Close() // the daemon is the only engine of this side
	d := startDaemon(t, bin, s.cfgPath)

	sendCLI(t, bin, s, uk, "first")
	waitUploaded(t, d, s, "first")

	// A valid edit: slower push schedule, same partner.
	orig, err := os.ReadFile(s.cfgPath)
	must(t, err)
	edited := strings.Replace(string(orig), `push: "@every 1s"`, `push: "@every 2s"`, 1)
	if edited == string(orig) {
		t.Fatalf("configuration has no push schedule to edit:\n%s", orig)
	}
	must(t, os.WriteFile(s.cfgPath, []byte(edited), 0o600))
	must(t, d.cmd.Process.Signal(syscall.SIGHUP))
	d.waitLog("configuration reloaded", 10*time.Second)
	d.waitLogN("daemon started", 2, 10*time.Second)
	sendCLI(t, bin, s, uk, "second")
	waitUploaded(t, d, s, "second")

	// A broken edit is refused and the running configuration kept. (An
	// operator's `send` needs a valid configuration: a copy beside it.)
	good := filepath.Join(filepath.Dir(s.cfgPath), "good.yaml")
	must(t, os.WriteFile(good, []byte(edited), 0o600))
	must(t, os.WriteFile(s.cfgPath, []byte(edited+"bogus_key: 1\n"), 0o600))
	must(t, d.cmd.Process.Signal(syscall.SIGHUP))
	d.waitLog("reload refused", 10*time.Second)
	if !strings.Contains(d.stderr.String(), "bogus_key") {
		t.Errorf("the refused reload does not name the bad key:\n%s", d.stderr)
	}
	sendCLIWith(t, bin, good, uk, "third")
	waitUploaded(t, d, s, "third")

	// The partner files all three; its receipts come back to the daemon.
	w.run(uk, us)
	if got := w.inbox(uk, us); len(got) != 3 {
		t.Fatalf("partner filed %d bundles, want 3", len(got))
	}
	testworld.WaitFor(t, 20*time.Second, "the daemon pulling the receipts", func() bool { return len(w.drop(uk, us)) == 0 },
		func() string { return fmt.Sprintf("drop %v; daemon log:\n%s", w.drop(uk, us), d.stderr) })

	start := time.Now()
	if code := d.stop(syscall.SIGTERM, 10*time.Second); code != 0 {
		t.Fatalf("daemon exited %d after SIGTERM:\n%s", code, d.stderr)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("daemon took %v to stop", el)
	}
	if !strings.Contains(d.stderr.String(), "daemon stopped") {
		t.Errorf("daemon did not log its stop:\n%s", d.stderr)
	}
	for _, dir := range [][2]string{{us, uk}, {uk, us}} {
		for _, n := range w.drop(dir[0], dir[1]) {
			if strings.HasPrefix(n, ".") || strings.HasSuffix(n, ".part") {
				t.Errorf("hidden upload %s left on drop %s-to-%s", n, dir[0], dir[1])
			}
		}
	}
	if _, err := audit.Verify(s.state("audit")); err != nil {
		t.Fatalf("daemon's exchange log: %v", err)
	}
	if n := len(names(t, s.state("outbox", uk))) + len(names(t, s.state("work", uk, "out"))); n != 0 {
		t.Errorf("%d items left in outbox or in flight", n)
	}
}

// TestDaemonStopWhileBusy stops the daemon with SIGINT while it keeps
// uploading: it exits 0 promptly and leaves no half bundle on the drop.
func TestDaemonStopWhileBusy(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	bin := buildSealpost(t)
	w := newWorld(t, loopbackServer(t), "schedule:\n  push: \"@every 1s\"\n", us, uk)
	s := w.sides[us]
	s.eng.Close()
	big := filepath.Join(t.TempDir(), "big.bin")
	must(t, os.WriteFile(big, bytes.Repeat([]byte("0123456789abcdef"), 2<<20), 0o600)) // 32 MiB
	for i := 0; i < 3; i++ {
		out, err := exec.Command(bin, "--config", s.cfgPath, "send", "--to", uk, big).CombinedOutput()
		if err != nil {
			t.Fatalf("send: %v\n%s", err, out)
		}
	}
	d := startDaemon(t, bin, s.cfgPath)
	// Wait until an upload is under way: a hidden .part file on the drop.
	testworld.WaitFor(t, 20*time.Second, "an upload in flight", func() bool { return hasHidden(w.drop(us, uk)) },
		func() string { return fmt.Sprintf("drop %v; daemon log:\n%s", w.drop(us, uk), d.stderr) })
	start := time.Now()
	if code := d.stop(os.Interrupt, 10*time.Second); code != 0 {
		t.Fatalf("daemon exited %d after SIGINT:\n%s", code, d.stderr)
	}
	t.Logf("stopped in %v with the drop holding %v; daemon log:\n%s", time.Since(start), w.drop(us, uk), d.stderr)
	for _, n := range w.drop(us, uk) {
		if strings.HasPrefix(n, ".") || strings.HasSuffix(n, ".part") {
			t.Errorf("hidden upload %s left on the drop after a clean stop", n)
		}
	}
	if _, err := audit.Verify(s.state("audit")); err != nil {
		t.Fatalf("exchange log: %v", err)
	}
	// What was not finished goes with the next run; nothing is lost.
	w.start(s)
	w.run(us, uk)
	w.run(uk, us)
	if got := w.inbox(uk, us); len(got) != 3 {
		t.Fatalf("partner filed %d bundles, want 3", len(got))
	}
}

// TestDaemonCronTZ starts the daemon with schedules in a named time zone.
func TestDaemonCronTZ(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	bin := buildSealpost(t)
	w := newWorld(t, loopbackServer(t),
		"schedule:\n  push: \"CRON_TZ=Europe/London 30 2 * * *\"\n  pull: \"CRON_TZ=Europe/London */5 * * * *\"\n", us, uk)
	s := w.sides[us]
	s.eng.Close()
	d := startDaemon(t, bin, s.cfgPath)
	if !strings.Contains(d.stderr.String(), "jobs=2") {
		t.Errorf("daemon did not schedule two jobs:\n%s", d.stderr)
	}
	if code := d.stop(syscall.SIGTERM, 10*time.Second); code != 0 {
		t.Fatalf("daemon exited %d after SIGTERM:\n%s", code, d.stderr)
	}

	// A zone that does not exist is a configuration error (exit 2).
	bad := strings.ReplaceAll(mustRead(t, s.cfgPath), "Europe/London", "Europe/Atlantis")
	must(t, os.WriteFile(s.cfgPath, []byte(bad), 0o600))
	out, err := exec.Command(bin, "--config", s.cfgPath, "daemon").CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "Europe/Atlantis") {
		t.Fatalf("daemon with an unknown time zone: %v\n%s", err, out)
	}
}

func hasHidden(names []string) bool {
	for _, n := range names {
		if strings.HasPrefix(n, ".") {
			return true
		}
	}
	return false
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	must(t, err)
	return string(data)
}
