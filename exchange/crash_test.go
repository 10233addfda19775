package exchange_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/sealpost/sealpost/exchange/audit"
	"github.com/sealpost/sealpost/exchange/bundle"
	"github.com/sealpost/sealpost/internal/testworld"
)

// crashBinary returns sealpost built with the crashtest tag: it kills
// itself with SIGKILL at the step named by $SEALPOST_CRASH_AT.
func crashBinary(t *testing.T) string { t.Helper(); return testworld.Binary(t, "crashtest") }

// runBinary runs `sealpost run --partner peer` for side s, killed at
// crashAt when it is set. It reports whether the process was killed.
func runBinary(t *testing.T, s *side, peer, crashAt string) bool {
	t.Helper()
	cmd := exec.Command(crashBinary(t), "--config", s.cfgPath, "run", "--partner", peer)
	cmd.Env = append(os.Environ(), "SEALPOST_CRASH_AT="+crashAt)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if st, ok := ee.Sys().(syscall.WaitStatus); ok && st.Signaled() && st.Signal() == syscall.SIGKILL {
			return true
		}
	}
	if err != nil {
		t.Fatalf("sealpost run for %s (crash at %q): %v\n%s", s.id, crashAt, err, out)
	}
	return false
}

// The step boundaries of a push and of a pull where a run may be killed.
var (
	pushPoints = []string{"push.claimed", "push.sealed", "push.published", "push.logged"}
	pullPoints = []string{"pull.downloaded", "pull.cleaned", "pull.receipt-owed", "pull.filed", "pull.logged", "receipt.claimed",
		"push.sealed", "push.published", "push.logged"}
)

// TestCrashAtEachStep kills the sender at each step of a push, and the
// receiver at each step of a pull (and of the push of its receipts), then
// lets the next runs recover. Every bundle must end up filed exactly once,
// answered by exactly one receipt, with nothing left on the drop.
func TestCrashAtEachStep(t *testing.T) {
	t.Parallel()
	for _, point := range pushPoints {
		t.Run("sender/"+point, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, loopbackServer(t), "", us, uk)
			queueTwo(w)
			if !runBinary(t, w.sides[us], uk, point) {
				t.Fatalf("the run was not killed at %s", point)
			}
			runBinary(t, w.sides[us], uk, "")
			w.run(uk, us)
			w.run(us, uk)
			checkExactlyOnce(t, w)
		})
	}
	for _, point := range pullPoints {
		t.Run("receiver/"+point, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, loopbackServer(t), "", us, uk)
			queueTwo(w)
			w.run(us, uk)
			if !runBinary(t, w.sides[uk], us, point) {
				t.Fatalf("the run was not killed at %s", point)
			}
			runBinary(t, w.sides[uk], us, "")
			w.run(us, uk)
			checkExactlyOnce(t, w)
		})
	}
}

// queueTwo queues two requests from us to uk.
func queueTwo(w *world) {
	w.send(us, uk, "first", "", map[string]string{"one.txt": "first request"})
	w.send(us, uk, "second", "", map[string]string{"two.txt": "second request", "folder/three.txt": "attached"})
}

// checkExactlyOnce checks the outcome of two requests after crashes and
// recovery: both filed once, both receipted once, queues and drops empty,
// both logs verifying.
func checkExactlyOnce(t *testing.T, w *world) {
	t.Helper()
	inbox := w.inbox(uk, us)
	refs := map[string]int{}
	for _, m := range inbox {
		refs[m.Reference]++
	}
	if len(inbox) != 2 || refs["first"] != 1 || refs["second"] != 1 {
		t.Fatalf("partner's inbox has %d bundles %v, want first and second once each", len(inbox), refs)
	}
	uploaded := map[string]int{}
	for _, r := range w.records(us, audit.EvUploaded) {
		if r.Outcome == "ok" { // failed attempts are logged too
			uploaded[r.Bundle]++
		}
	}
	receipts := map[string]int{}
	for _, r := range w.records(us, audit.EvReceipt) {
		if r.Outcome != "ok" {
			t.Fatalf("receipt record not ok: %+v", r)
		}
		receipts[r.InReplyTo]++
	}
	if len(uploaded) != 2 || len(receipts) != 2 {
		t.Fatalf("uploaded %v, receipts %v: want 2 bundles, each receipted", uploaded, receipts)
	}
	for id, n := range uploaded {
		if n != 1 || receipts[id] != 1 {
			t.Fatalf("bundle %s uploaded %d times, receipted %d times; want once each", id, n, receipts[id])
		}
	}
	if got := len(w.records(uk, audit.EvFiled)); got != 2 {
		t.Fatalf("partner's log files %d bundles, want 2", got)
	}
	for _, dir := range []string{w.sides[us].state("outbox", uk), w.sides[us].state("work", uk, "out"),
		w.sides[uk].state("work", us, "out"), w.sides[uk].state("work", us, "in"), w.sides[uk].state("work", us, "receipts"),
		w.sides[uk].state("quarantine", us)} {
		if left := names(t, dir); len(left) != 0 {
			t.Fatalf("%s still holds %v", dir, left)
		}
	}
	for _, pair := range [][2]string{{us, uk}, {uk, us}} {
		if left := w.drop(pair[0], pair[1]); len(left) != 0 {
			t.Fatalf("drop %s-to-%s still holds %v", pair[0], pair[1], left)
		}
	}
}

// allPoints is every crash point of the engine, in the order a cycle
// meets them.
var allPoints = []string{"pull.downloaded", "pull.cleaned", "pull.receipt-owed", "pull.filed", "pull.logged",
	"receipt.claimed", "push.claimed", "push.uploading", "push.sealed", "push.published", "push.logged"}

// TestCrashBothWays kills both parties at the same step, in turn, while
// each has bundles to push (one large enough to be killed mid-upload) and
// the other's bundles and receipts to pull; then lets them recover. Every
// bundle must exist exactly once on each side: filed once by its receiver,
// in sent/ once and receipted once at its sender; nothing left in work/,
// quarantine/ or on the drops.
func TestCrashBothWays(t *testing.T) {
	t.Parallel()
	var kills atomic.Int64
	t.Cleanup(func() { t.Logf("%d runs killed at %d points", kills.Load(), len(allPoints)) })
	for _, point := range allPoints {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, loopbackServer(t), "", us, uk)
			queueTwo(w)
			w.send(us, uk, "big", "", map[string]string{"big.txt": randomText(600 << 10)})
			w.send(uk, us, "answer", "", map[string]string{"answer.txt": "an answer"})
			w.send(uk, us, "big answer", "", map[string]string{"big.txt": randomText(600 << 10)})
			killed := 0
			for _, id := range []string{us, uk, us, uk} {
				peer := map[string]string{us: uk, uk: us}[id]
				if runBinary(t, w.sides[id], peer, point) {
					killed++
				}
			}
			if killed == 0 {
				t.Fatalf("no run was killed at %s", point)
			}
			kills.Add(int64(killed))
			for range 2 {
				runBinary(t, w.sides[us], uk, "")
				runBinary(t, w.sides[uk], us, "")
			}
			w.run(us, uk)
			checkBothWays(t, w, map[string][]string{us: {"first", "second", "big"}, uk: {"answer", "big answer"}})
		})
	}
}

// checkBothWays checks that each sender's references were filed exactly
// once by the other side and receipted exactly once, and that nothing is
// left half done anywhere.
func checkBothWays(t *testing.T, w *world, sent map[string][]string) {
	t.Helper()
	other := map[string]string{us: uk, uk: us}
	for from, refs := range sent {
		to := other[from]
		got := map[string]int{}
		for _, m := range w.inbox(to, from) {
			got[m.Reference]++
		}
		for _, ref := range refs {
			if got[ref] != 1 {
				t.Fatalf("%s filed %q from %s %d times, want once (inbox %v)", to, ref, from, got[ref], got)
			}
		}
		if len(got) != len(refs) {
			t.Fatalf("%s's inbox from %s holds %v, want %v", to, from, got, refs)
		}
		if n := len(w.records(to, audit.EvFiled)); n != len(refs) {
			t.Fatalf("%s's log files %d bundles, want %d", to, n, len(refs))
		}
		uploaded := map[string]int{}
		for _, r := range w.records(from, audit.EvUploaded) {
			if r.Outcome == "ok" && r.Kind != "receipt" {
				uploaded[r.Bundle]++
			}
		}
		receipts := map[string]int{}
		for _, r := range w.records(from, audit.EvReceipt) {
			if r.Outcome != "ok" {
				t.Fatalf("%s: receipt record not ok: %+v", from, r)
			}
			receipts[r.InReplyTo]++
		}
		if len(uploaded) != len(refs) || len(receipts) != len(refs) {
			t.Fatalf("%s uploaded %v, got receipts %v: want %d bundles, each receipted", from, uploaded, receipts, len(refs))
		}
		for id, n := range uploaded {
			if n != 1 || receipts[id] != 1 {
				t.Fatalf("%s: bundle %s uploaded %d times, receipted %d times; want once each", from, id, n, receipts[id])
			}
		}
		if n := len(names(t, w.sides[from].state("sent", to))); n < len(refs) {
			t.Fatalf("%s's sent/ holds %d bundles, want at least %d", from, n, len(refs))
		}
		for _, dir := range []string{w.sides[from].state("outbox", to), w.sides[from].state("work", to, "out"),
			w.sides[from].state("work", to, "in"), w.sides[from].state("work", to, "receipts"),
			w.sides[from].state("work", to, "stage"), w.sides[from].state("quarantine", to)} {
			if left := names(t, dir); len(left) != 0 {
				t.Fatalf("%s still holds %v", dir, left)
			}
		}
		if left := w.drop(from, to); len(left) != 0 {
			t.Fatalf("drop %s-to-%s still holds %v", from, to, left)
		}
	}
}

// TestNoResendAfterLoggedUpload kills the sender after it recorded an
// upload but before it removed the claim, lets the partner take the bundle
// off the drop, and checks that the next run does not send it again.
func TestNoResendAfterLoggedUpload(t *testing.T) {
	t.Parallel()
	w := newWorld(t, loopbackServer(t), "", us, uk)
	w.send(us, uk, "once", "", map[string]string{"one.txt": "sent once"})
	if !runBinary(t, w.sides[us], uk, "push.logged") {
		t.Fatal("the run was not killed at push.logged")
	}
	if res := w.run(uk, us); res.Filed != 1 {
		t.Fatalf("partner filed %d bundles, want 1", res.Filed)
	}
	runBinary(t, w.sides[us], uk, "")
	if left := w.drop(us, uk); len(left) != 0 {
		t.Fatalf("the bundle was sent again after its upload was recorded: drop holds %v", left)
	}
	if n := len(w.records(us, audit.EvUploaded)); n != 1 {
		t.Fatalf("log holds %d bundle.uploaded records, want 1", n)
	}
	if left := names(t, w.sides[us].state("work", uk, "out")); len(left) != 0 {
		t.Fatalf("claims left: %v", left)
	}
}

// TestCrashWhileQuarantining kills the receiver after it recorded a
// refusal but before it moved the file into quarantine: the next run
// finishes the move without a second record or a second receipt, and an
// older quarantined file of the same name is kept.
func TestCrashWhileQuarantining(t *testing.T) {
	t.Parallel()
	w := newWorld(t, loopbackServer(t), "", us, uk)
	name := us + "_" + uk + "_request_" + bundle.NewID() + ".pgp"
	q := w.sides[uk].state("quarantine", us)
	must(t, os.WriteFile(filepath.Join(q, name), []byte("an older refused file"), 0o600))
	must(t, os.WriteFile(filepath.Join(q, name+".reason.json"), []byte(`{"file":"`+name+`","reason":"older"}`), 0o600))
	must(t, os.WriteFile(filepath.Join(w.srv.root, us+"-to-"+uk, name), []byte("garbage"), 0o644))
	if !runBinary(t, w.sides[uk], us, "pull.rejected") {
		t.Fatal("the run was not killed at pull.rejected")
	}
	if res := w.sides[uk].eng.RunPartner(t.Context(), us, true, true); res.Err != nil || res.Pushed != 1 {
		t.Fatalf("recovery run: pushed %d receipts, err %v; want the one rejected receipt", res.Pushed, res.Err)
	}
	if got := len(w.records(uk, audit.EvRejected)); got != 1 {
		t.Fatalf("%d bundle.rejected records, want 1", got)
	}
	if data, _ := os.ReadFile(filepath.Join(q, name)); string(data) != "an older refused file" {
		t.Fatalf("the older quarantined file was overwritten: %q", data)
	}
	if data, _ := os.ReadFile(filepath.Join(q, name+".1")); string(data) != "garbage" {
		t.Fatalf("the refused file is not in quarantine as %s.1: %q", name, data)
	}
	if left := names(t, w.sides[uk].state("work", us, "in")); len(left) != 0 {
		t.Fatalf("work/in still holds %v", left)
	}
	w.run(us, uk)
	if got := len(w.records(us, audit.EvReceipt)); got != 1 {
		t.Fatalf("sender got %d receipts for the refused file, want 1", got)
	}
}
