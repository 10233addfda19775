package exchange_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sealpost/sealpost/exchange"
	"github.com/sealpost/sealpost/exchange/audit"
	"github.com/sealpost/sealpost/exchange/bundle"
)

// TestOutboxRules covers what the outbox picks up (SPEC §3): settled files,
// folders with READY, bundle.yaml; never hidden or temporary names; links,
// hard links and special files go to failed/ with a reason.
func TestOutboxRules(t *testing.T) {
	t.Parallel()
	w := newWorld(t, loopbackServer(t), "settle: 1h", us, uk)
	s := w.sides[us]
	out := s.state("outbox", uk)
	old := time.Now().Add(-2 * time.Hour)
	write := func(rel, body string, settled bool) {
		p := filepath.Join(out, rel)
		must(t, os.MkdirAll(filepath.Dir(p), 0o700))
		must(t, os.WriteFile(p, []byte(body), 0o600))
		if settled {
			must(t, os.Chtimes(p, old, old))
			must(t, os.Chtimes(filepath.Dir(p), old, old))
		}
	}
	write("settled.txt", "old enough", true)
	write("fresh.txt", "still being written", false)
	write(".hidden", "never", true)
	write("upload.part", "never", true)
	write("copy.tmp", "never", true)
	write("ready/READY", "", false)
	write("ready/doc.txt", "a folder marked ready", false)
	write("ready/bundle.yaml", "reference: CASE-9\nin_reply_to: 01a21f7b-1dd2-7a63-aca9-2df4596e7cab\n", false)
	write("unready/doc.txt", "a folder still being filled", false)
	write("withlink/READY", "", false)
	write("withlink/doc.txt", "a folder with a link inside", false)
	must(t, os.Symlink("/etc/passwd", filepath.Join(out, "withlink", "passwd")))
	must(t, os.Symlink("/etc/passwd", filepath.Join(out, "link.txt")))
	must(t, syscall.Mkfifo(filepath.Join(out, "fifo"), 0o600))
	write("hard.txt", "linked twice", true)
	must(t, os.Link(filepath.Join(out, "hard.txt"), filepath.Join(t.TempDir(), "other-name")))

	res := w.run(us, uk)
	if res.Pushed != 2 || res.Failed != 4 {
		t.Fatalf("pushed %d, failed %d; want 2 (settled.txt, ready/) and 4 (link.txt, fifo, hard.txt, withlink/)", res.Pushed, res.Failed)
	}
	left := strings.Join(names(t, out), ",")
	if left != ".hidden,copy.tmp,fresh.txt,unready,upload.part" {
		t.Fatalf("outbox holds %s", left)
	}
	failed := names(t, s.state("failed", uk))
	for _, n := range []string{"link.txt", "fifo", "hard.txt", "withlink"} {
		if !contains(failed, n) || !contains(failed, n+".reason.json") {
			t.Fatalf("failed/ holds %v, want %s with its reason", failed, n)
		}
	}
	var reason struct{ Reason string }
	readJSONFile(t, s.state("failed", uk, "link.txt.reason.json"), &reason)
	if !strings.Contains(reason.Reason, "symbolic link") {
		t.Fatalf("reason for link.txt: %q", reason.Reason)
	}
	if got := len(w.records(us, audit.EvFailed)); got != 4 {
		t.Fatalf("log has %d bundle.failed records, want 4", got)
	}

	w.run(uk, us)
	var resp *bundle.Manifest
	for _, m := range w.inbox(uk, us) {
		if m.Reference == "CASE-9" {
			resp = m
		}
	}
	if resp == nil || resp.Kind != bundle.KindResponse || resp.InReplyTo != "01a21f7b-1dd2-7a63-aca9-2df4596e7cab" {
		t.Fatalf("bundle.yaml not honoured: %+v", resp)
	}
	if len(resp.Files) != 1 || resp.Files[0].Path != "payload/doc.txt" {
		t.Fatalf("folder item files %+v, want only payload/doc.txt (READY and bundle.yaml are not sent)", resp.Files)
	}
}

// TestLockedPartner checks that a run finding the partner's lock taken
// does nothing and says so with ErrLocked.
func TestLockedPartner(t *testing.T) {
	t.Parallel()
	w := newWorld(t, loopbackServer(t), "", us, uk)
	w.send(us, uk, "r", "", map[string]string{"a.txt": "x"})
	f, err := os.OpenFile(w.sides[us].state("locks", uk+".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	must(t, err)
	defer f.Close()
	must(t, syscall.Flock(int(f.Fd()), syscall.LOCK_EX))
	res := w.sides[us].eng.RunPartner(t.Context(), exchange.RunOptions{Partner: uk})
	if !errors.Is(res.Err, exchange.ErrLocked) {
		t.Fatalf("run under a held lock: %v, want ErrLocked", res.Err)
	}
	if n := len(names(t, w.sides[us].state("outbox", uk))); n != 1 {
		t.Fatalf("outbox holds %d items after a locked run, want 1 (nothing done)", n)
	}
	must(t, syscall.Flock(int(f.Fd()), syscall.LOCK_UN))
	if res := w.run(us, uk); res.Pushed != 1 {
		t.Fatalf("after the lock is released: pushed %d, want 1", res.Pushed)
	}
}
