package exchange_test

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/sealpost/sealpost/exchange"
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

// The crash points TestCrashAtEachStep's one-way exchange of two small
// requests meets: at the sender, and at the receiver (which pushes
// receipts). TestCrashTable checks each is in the state table.
var (
	pushPoints = []string{"push.claimed", "push.sealed", "push.published", "push.logged"}
	pullPoints = []string{"pull.downloaded", "pull.cleaned", "pull.receipt-owed", "pull.filed", "pull.logged", "receipt.claimed",
		"push.sealed", "push.published", "push.logged"}
)

// refusalStates are the states of the table only a refused file reaches,
// each with the partner configuration that leads there:
// TestCrashWhileQuarantining kills a run in each. TestCrashBothWays, where
// every file verifies, kills runs in all the other states.
var refusalStates = map[string]string{
	"reason-kept":     "",
	"rejected":        "",
	"rejected-unkept": "limits:\n  quarantine_files: 1",
}

// allPoints is every crash point of the state table but those of the
// refusal states, in the table's order.
var allPoints = statePoints(false)

// statePoints returns the crash points of the state table, in its order:
// those of refusal states when refusals is set, else all the others.
func statePoints(refusals bool) []string {
	var out []string
	for _, st := range exchange.States() {
		if _, ok := refusalStates[st.Name]; ok == refusals {
			out = append(out, st.Points...)
		}
	}
	return out
}

// TestCrashTable checks the state table against the code, the crash tests
// and docs/states.md: every state has a crash point and every crash point
// is in exactly one state; every crashpoint call of the engine names a
// point of the table and every point of the table is called; the tests'
// own lists name only points and states of the table; the doc names every
// state and point.
func TestCrashTable(t *testing.T) {
	table := map[string]string{} // point → state
	var states []string
	for _, st := range exchange.States() {
		if len(st.Points) == 0 {
			t.Errorf("%s state %q has no crash point, so no crash test", st.Dir, st.Name)
		}
		for _, p := range st.Points {
			if was, ok := table[p]; ok {
				t.Errorf("crash point %s is in states %s and %s", p, was, st.Name)
			}
			table[p] = st.Name
		}
		states = append(states, st.Name)
	}
	called := crashpointCalls(t)
	for p := range called {
		if _, ok := table[p]; !ok {
			t.Errorf("crash point %s is called in the engine but is in no state of the table", p)
		}
	}
	for p := range table {
		if !called[p] {
			t.Errorf("crash point %s of the table is called nowhere in the engine", p)
		}
	}
	for _, p := range append(append([]string{}, pushPoints...), pullPoints...) {
		if _, ok := table[p]; !ok {
			t.Errorf("TestCrashAtEachStep kills at %s, which is in no state of the table", p)
		}
	}
	for name := range refusalStates {
		if !slices.Contains(states, name) {
			t.Errorf("refusal state %q is not in the table", name)
		}
	}
	doc, err := os.ReadFile(filepath.Join("..", "docs", "states.md"))
	must(t, err)
	for _, name := range append(states, slices.Collect(maps.Keys(table))...) {
		if !strings.Contains(string(doc), "`"+name+"`") {
			t.Errorf("docs/states.md does not name `%s`", name)
		}
	}
}

// crashpointCalls returns the names passed to crashpoint in the engine's
// source (this folder's non-test files); each must be a string literal.
func crashpointCalls(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob("*.go")
	must(t, err)
	called := map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		must(t, err)
		ast.Inspect(file, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok && isCrashpoint(call) {
				lit, ok := call.Args[0].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Errorf("%s: crashpoint is called with %T, not a string literal", fset.Position(call.Pos()), call.Args[0])
					return true
				}
				name, err := strconv.Unquote(lit.Value)
				must(t, err)
				called[name] = true
			}
			return true
		})
	}
	return called
}

// isCrashpoint reports whether call calls crashpoint.
func isCrashpoint(call *ast.CallExpr) bool {
	id, ok := call.Fun.(*ast.Ident)
	return ok && id.Name == "crashpoint" && len(call.Args) == 1
}

// TestCrashAtEachStep kills the sender at each step of a push, and the
// receiver at each step of a pull (and of the push of its receipts), then
// lets the next runs recover. Every bundle must end up filed exactly once,
// answered by exactly one receipt, with nothing left on the drop.
func TestCrashAtEachStep(t *testing.T) {
	t.Parallel()
	for _, tr := range transports(us) {
		for _, point := range pushPoints {
			t.Run("sender/"+tr.name+"/"+point, func(t *testing.T) {
				t.Parallel()
				w := newWorldOn(t, loopbackServer(t), tr, "", us, uk)
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
	}
	for _, tr := range transports(uk) {
		for _, point := range pullPoints {
			t.Run("receiver/"+tr.name+"/"+point, func(t *testing.T) {
				t.Parallel()
				w := newWorldOn(t, loopbackServer(t), tr, "", us, uk)
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

// TestCrashBothWays kills both parties at the same step (each crash point
// of the state table but those of refusals), in turn, with the drop
// reached over SFTP by both and with it hosted locally by us, while
// each has bundles to push (one large enough to be killed mid-upload) and
// the other's bundles and receipts to pull; then lets them recover. Every
// bundle must exist exactly once on each side: filed once by its receiver,
// in sent/ once and receipted once at its sender; nothing left in work/,
// quarantine/ or on the drops.
func TestCrashBothWays(t *testing.T) {
	t.Parallel()
	var kills atomic.Int64
	t.Cleanup(func() { t.Logf("%d runs killed at %d points", kills.Load(), len(allPoints)) })
	for _, tr := range transports(us) {
		for _, point := range allPoints {
			t.Run(tr.name+"/"+point, func(t *testing.T) {
				t.Parallel()
				crashBothWays(t, tr, point, &kills)
			})
		}
	}
}

// crashBothWays is one case of TestCrashBothWays: both parties killed at
// point, over the drop reached by tr.
func crashBothWays(t *testing.T, tr transport, point string, kills *atomic.Int64) {
	w := newWorldOn(t, loopbackServer(t), tr, "", us, uk)
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

// TestCrashWhileQuarantining kills the receiver at each crash point of the
// refusal states: after it wrote a refusal's reason, after it recorded the
// refusal but before it moved the file into quarantine, and, with the
// quarantine full, after it recorded the refusal but before it deleted the
// file. The next run finishes the refusal without a second record or a
// second receipt, and an older quarantined file of the same name is kept.
func TestCrashWhileQuarantining(t *testing.T) {
	t.Parallel()
	for _, st := range exchange.States() {
		extra, ok := refusalStates[st.Name]
		if !ok {
			continue
		}
		for _, tr := range transports(uk) {
			for _, point := range st.Points {
				t.Run(tr.name+"/"+point, func(t *testing.T) {
					t.Parallel()
					crashWhileQuarantining(t, tr, point, extra)
				})
			}
		}
	}
}

// crashWhileQuarantining kills the receiver of a file it refuses at point,
// with extra added to the partner configuration, over the drop reached by
// tr, and checks the recovery.
func crashWhileQuarantining(t *testing.T, tr transport, point, extra string) {
	w := newWorldOn(t, loopbackServer(t), tr, extra, us, uk)
	name := us + "_" + uk + "_request_" + bundle.NewID() + ".pgp"
	q := w.sides[uk].state("quarantine", us)
	must(t, os.WriteFile(filepath.Join(q, name), []byte("an older refused file"), 0o600))
	must(t, os.WriteFile(filepath.Join(q, name+".reason.json"), []byte(`{"file":"`+name+`","reason":"older"}`), 0o600))
	must(t, os.WriteFile(filepath.Join(w.srv.root, us+"-to-"+uk, name), []byte("garbage"), 0o644))
	if !runBinary(t, w.sides[uk], us, point) {
		t.Fatalf("the run was not killed at %s", point)
	}
	if res := w.sides[uk].eng.RunPartner(t.Context(), exchange.RunOptions{Partner: us}); res.Err != nil || res.Pushed != 1 {
		t.Fatalf("recovery run: pushed %d receipts, err %v; want the one rejected receipt", res.Pushed, res.Err)
	}
	if got := len(w.records(uk, audit.EvRejected)); got != 1 {
		t.Fatalf("%d bundle.rejected records, want 1", got)
	}
	if data, _ := os.ReadFile(filepath.Join(q, name)); string(data) != "an older refused file" {
		t.Fatalf("the older quarantined file was overwritten: %q", data)
	}
	data, err := os.ReadFile(filepath.Join(q, name+".1"))
	if extra == "" && string(data) != "garbage" {
		t.Fatalf("the refused file is not in quarantine as %s.1: %q", name, data)
	}
	if extra != "" && !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the quarantine is full, yet the refused file was kept as %s.1 (%v)", name, err)
	}
	if left := names(t, w.sides[uk].state("work", us, "in")); len(left) != 0 {
		t.Fatalf("work/in still holds %v", left)
	}
	w.run(us, uk)
	if got := len(w.records(us, audit.EvReceipt)); got != 1 {
		t.Fatalf("sender got %d receipts for the refused file, want 1", got)
	}
}
