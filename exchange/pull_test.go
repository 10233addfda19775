package exchange_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/exchange"
	"github.com/sealpost/sealpost/exchange/audit"
	"github.com/sealpost/sealpost/exchange/bundle"
)

// TestRefusedBundles puts a garbage file, a tampered bundle and a garbage
// "receipt" on the drop beside a good bundle: the good one is filed, the
// others are quarantined with their reasons, the sender gets a rejected
// receipt for the bundles (never for the receipt), and the log says why;
// over SFTP and with the receiver hosting the drop.
func TestRefusedBundles(t *testing.T) {
	t.Parallel()
	onEachTransport(t, uk, checkRefusedBundles)
}

// checkRefusedBundles is TestRefusedBundles with the receiver reaching the drop by tr.
func checkRefusedBundles(t *testing.T, tr transport) {
	w := newWorldOn(t, loopbackServer(t), tr, "", us, uk)
	w.send(us, uk, "good", "", map[string]string{"a.txt": "fine"})
	w.run(us, uk)
	w.send(us, uk, "tampered", "", map[string]string{"b.txt": strings.Repeat("evidence ", 5000)})
	w.run(us, uk)
	drop := filepath.Join(w.srv.root, us+"-to-"+uk)
	var tampered string
	for _, n := range w.drop(us, uk) {
		data, err := os.ReadFile(filepath.Join(drop, n))
		must(t, err)
		if len(data) > 20000 {
			tampered = n
			data[len(data)/2] ^= 0x40
			must(t, os.WriteFile(filepath.Join(drop, n), data, 0o644))
		}
	}
	garbage := us + "_" + uk + "_request_" + bundle.NewID() + ".pgp"
	must(t, os.WriteFile(filepath.Join(drop, garbage), []byte("not an OpenPGP message"), 0o644))
	fakeReceipt := us + "_" + uk + "_receipt_" + bundle.NewID() + ".pgp"
	must(t, os.WriteFile(filepath.Join(drop, fakeReceipt), []byte("junk"), 0o644))

	res := w.sides[uk].eng.RunPartner(t.Context(), exchange.RunOptions{Partner: us})
	if res.Filed != 1 || res.Refused != 3 || res.Pushed != 3 {
		t.Fatalf("filed %d refused %d pushed %d (err %v); want 1 filed, 3 refused, 3 receipts (1 filed, 2 rejected)",
			res.Filed, res.Refused, res.Pushed, res.Err)
	}
	q := w.sides[uk].state("quarantine", us)
	codes := map[string]string{}
	for _, n := range []string{tampered, garbage, fakeReceipt} {
		var rj struct{ Code, Reason, SHA256 string }
		readJSONFile(t, filepath.Join(q, n+".reason.json"), &rj)
		if _, err := os.Stat(filepath.Join(q, n)); err != nil || rj.Reason == "" || len(rj.SHA256) != 64 {
			t.Fatalf("quarantine of %s: %v, reason %+v", n, err, rj)
		}
		codes[n] = rj.Code
	}
	if codes[garbage] != "decrypt" || (codes[tampered] != "integrity" && codes[tampered] != "decrypt") {
		t.Fatalf("refusal codes %v", codes)
	}
	rejected := w.records(uk, audit.EvRejected)
	if len(rejected) != 3 || rejected[0].Outcome != "rejected" || rejected[0].Code == "" || rejected[0].Error == "" {
		t.Fatalf("rejected records %+v", rejected)
	}

	res = w.run(us, uk)
	if res.Receipts != 3 {
		t.Fatalf("sender got %d receipts, want 3", res.Receipts)
	}
	// The tampered bundle's receipt names our file but hashes other bytes
	// than we sent: the log says so. The garbage file's receipt matches
	// nothing we sent.
	var sawTampered, sawGarbage bool
	for _, r := range w.records(us, audit.EvReceipt) {
		switch {
		case r.Outcome == "ok" && r.Detail == bundle.StatusFiled:
		case r.Outcome == "error" && strings.Contains(r.Error, "but we sent"):
			sawTampered = true
		case r.Outcome == "error" && strings.Contains(r.Error, "matches nothing we sent"):
			sawGarbage = true
		default:
			t.Fatalf("unexpected receipt record %+v", r)
		}
	}
	if !sawTampered || !sawGarbage {
		t.Fatalf("receipt records: tampered seen %v, garbage seen %v", sawTampered, sawGarbage)
	}
	st, err := w.sides[us].eng.Status(uk)
	must(t, err)
	if len(st[0].AwaitingReceipt) != 1 {
		t.Fatalf("awaiting receipt %+v, want the tampered bundle (its receipt did not match)", st[0].AwaitingReceipt)
	}
}

// TestDuplicateBundle delivers the same bundle again, under its own name
// and under another: it is filed once and answered once.
func TestDuplicateBundle(t *testing.T) {
	t.Parallel()
	w := newWorld(t, loopbackServer(t), "", us, uk)
	w.send(us, uk, "once", "", map[string]string{"a.txt": "only once"})
	w.run(us, uk)
	drop := filepath.Join(w.srv.root, us+"-to-"+uk)
	name := w.drop(us, uk)[0]
	data, err := os.ReadFile(filepath.Join(drop, name))
	must(t, err)
	if res := w.run(uk, us); res.Filed != 1 || res.Pushed != 1 {
		t.Fatalf("first delivery: filed %d, receipts %d", res.Filed, res.Pushed)
	}
	must(t, os.WriteFile(filepath.Join(drop, name), data, 0o644))
	other := us + "_" + uk + "_request_" + bundle.NewID() + ".pgp"
	must(t, os.WriteFile(filepath.Join(drop, other), data, 0o644))
	res := w.run(uk, us)
	if res.Filed != 0 || res.Pushed != 0 || res.Refused != 0 {
		t.Fatalf("replay: filed %d, receipts %d, refused %d; want nothing", res.Filed, res.Pushed, res.Refused)
	}
	if n := len(w.inbox(uk, us)); n != 1 {
		t.Fatalf("inbox holds %d bundles, want 1", n)
	}
	if dups := w.records(uk, "bundle.duplicate"); len(dups) != 2 {
		t.Fatalf("duplicate records %+v, want 2", dups)
	}
	if left := w.drop(us, uk); len(left) != 0 {
		t.Fatalf("drop still holds %v", left)
	}
}

// TestHostileRemoteNames leaves names on the drop that must never be
// fetched: control characters, links, folders, hidden and temporary names;
// over SFTP and with the receiver hosting the drop.
func TestHostileRemoteNames(t *testing.T) {
	t.Parallel()
	onEachTransport(t, uk, checkHostileRemoteNames)
}

// checkHostileRemoteNames is TestHostileRemoteNames with the receiver
// reaching the drop by tr.
func checkHostileRemoteNames(t *testing.T, tr transport) {
	w := newWorldOn(t, loopbackServer(t), tr, "", us, uk)
	drop := filepath.Join(w.srv.root, us+"-to-"+uk)
	for _, n := range []string{"evil\nname.pgp", "bell\x07.pgp", ".hidden.pgp", ".x.pgp.part", "notes.txt"} {
		must(t, os.WriteFile(filepath.Join(drop, n), []byte("x"), 0o644))
	}
	must(t, os.Symlink("/etc/passwd", filepath.Join(drop, "link.pgp")))
	must(t, os.Mkdir(filepath.Join(drop, "dir.pgp"), 0o755))
	res := w.run(uk, us)
	if res.Filed != 0 || res.Refused != 0 || res.Pushed != 0 {
		t.Fatalf("filed %d, refused %d, pushed %d: hostile names must be skipped", res.Filed, res.Refused, res.Pushed)
	}
	if got := names(t, w.sides[uk].state("received", us)); len(got) != 0 {
		t.Fatalf("fetched %v", got)
	}
	skipped := map[string]bool{}
	for _, r := range w.records(uk, "remote.skipped") {
		skipped[r.File] = true
		if strings.ContainsAny(r.Error, "\n\x07") {
			t.Fatalf("record reason holds a control character: %q", r.Error)
		}
	}
	for _, n := range []string{"evil\nname.pgp", "bell\x07.pgp", "link.pgp"} {
		if !skipped[n] {
			t.Fatalf("%q not logged as skipped (logged: %v)", n, skipped)
		}
	}
	if _, err := os.Lstat(filepath.Join(drop, "link.pgp")); err != nil {
		t.Fatalf("the link on the drop was touched: %v", err)
	}
}

// moveAfterPull configures side s to move what it pulls into /done on the
// drop instead of deleting it.
func moveAfterPull(t *testing.T, s *side) {
	t.Helper()
	data, err := os.ReadFile(s.cfgPath)
	must(t, err)
	must(t, os.WriteFile(s.cfgPath, []byte(strings.Replace(string(data), "      timeout: 10s\n",
		"      timeout: 10s\n      after_pull: move:/done\n", 1)), 0o600))
}

// TestAfterPullMove checks after_pull: move: the pulled file is moved on
// the drop instead of deleted, and is not fetched again.
func TestAfterPullMove(t *testing.T) {
	t.Parallel()
	srv := loopbackServer(t)
	must(t, os.MkdirAll(filepath.Join(srv.root, "done"), 0o755))
	w := newWorld(t, srv, "", us, uk)
	// Reconfigure uk to move what it pulls into /done.
	s := w.sides[uk]
	moveAfterPull(t, s)
	w.start(s)
	w.send(us, uk, "moved", "", map[string]string{"a.txt": "x"})
	w.run(us, uk)
	if res := w.run(uk, us); res.Filed != 1 {
		t.Fatalf("filed %d", res.Filed)
	}
	if got := names(t, filepath.Join(srv.root, "done")); len(got) != 1 || !strings.HasSuffix(got[0], ".pgp") {
		t.Fatalf("/done holds %v, want the pulled bundle", got)
	}
	if left := w.drop(us, uk); len(left) != 0 {
		t.Fatalf("pull folder still holds %v", left)
	}
	if res := w.run(uk, us); res.Filed != 0 {
		t.Fatalf("second run filed %d", res.Filed)
	}
}

// TestOversizedFileNotFetched checks that a file too large for
// limits.max_bytes is refused without being downloaded, answered with a
// rejected receipt (code limits), and removed from the drop; over SFTP
// and with the receiver hosting the drop.
func TestOversizedFileNotFetched(t *testing.T) {
	t.Parallel()
	onEachTransport(t, uk, checkOversizedFileNotFetched)
}

// checkOversizedFileNotFetched is TestOversizedFileNotFetched with the receiver reaching the drop by tr.
func checkOversizedFileNotFetched(t *testing.T, tr transport) {
	w := newWorldOn(t, loopbackServer(t), tr, "limits:\n  max_bytes: 1MiB", us, uk)
	drop := filepath.Join(w.srv.root, us+"-to-"+uk)
	name := us + "_" + uk + "_request_" + bundle.NewID() + ".pgp"
	f, err := os.Create(filepath.Join(drop, name))
	must(t, err)
	must(t, f.Truncate(3<<20))
	f.Close()
	res := w.sides[uk].eng.RunPartner(t.Context(), exchange.RunOptions{Partner: us})
	if res.Refused != 1 || res.Pushed != 1 {
		t.Fatalf("refused %d, receipts %d (err %v); want 1 and 1", res.Refused, res.Pushed, res.Err)
	}
	if _, err := os.Stat(w.sides[uk].state("quarantine", us, name)); !os.IsNotExist(err) {
		t.Fatalf("the oversized file was downloaded: %v", err)
	}
	var rj struct{ Code string }
	readJSONFile(t, w.sides[uk].state("quarantine", us, name+".reason.json"), &rj)
	if rj.Code != "limits" {
		t.Fatalf("reason code %q, want limits", rj.Code)
	}
	if left := w.drop(us, uk); len(left) != 0 {
		t.Fatalf("drop still holds %v", left)
	}
}
