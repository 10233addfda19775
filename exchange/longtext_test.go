package exchange_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	sealcrypto "github.com/sealpost/sealpost/crypto"
	"github.com/sealpost/sealpost/exchange"
	"github.com/sealpost/sealpost/exchange/audit"
	"github.com/sealpost/sealpost/exchange/bundle"
	"github.com/sealpost/sealpost/internal/sftpd"
)

// TestNothingTooLongToLog: a partner's text that would once have made a
// log line over audit.MaxLine (a 300,000-character tar name, a 1 MiB
// reference, a 1 MiB reason in a receipt, a 1 MiB member name) is bounded
// where it enters: each file is quarantined with its code and recorded as
// bundle.rejected, nothing sticks in work/, a second run has nothing left
// to do, and the log verifies.
func TestNothingTooLongToLog(t *testing.T) {
	t.Parallel()
	w := newWorld(t, loopbackServer(t), "limits:\n  max_bytes: 8MiB\n  max_files: 8", us, uk)
	self := exchange.EngineKeys(w.sides[us].eng).Self()
	sealed := func(plain []byte) []byte {
		return sealPlain(t, self, exchange.EngineKeys(w.sides[us].eng).Peer(uk), sealcrypto.SealOptions{}, plain)
	}
	a := regEntry("payload/a.txt", "alpha")
	zwsp := strings.Repeat("\u200b", 300000) // quoted, 6 bytes each: 1.8 MB
	longName := regEntry("payload/"+zwsp, "x")
	withManifest := func(edit func(*bundle.Manifest), entries ...tarEntry) []byte {
		m := manifestFor(us, uk, entries...)
		edit(m)
		return tarOf(t, append(entries, manifestEntry(t, m))...)
	}
	huge := strings.Repeat("x", 1<<20) // over a log line by itself
	receipt := func(m *bundle.Manifest) {
		m.Kind, m.Files, m.InReplyTo = bundle.KindReceipt, []bundle.File{}, bundle.NewID()
		m.Receipt = &bundle.Receipt{For: m.InReplyTo, CiphertextSHA256: strings.Repeat("0", 64),
			Status: bundle.StatusRejected, Code: "decrypt", Reason: huge}
	}
	cases := []struct {
		name, kind, code string
		data             []byte
	}{
		{"300,000-character tar name", bundle.KindRequest, "archive", sealed(tarOf(t, a, longName))},
		{"1 MiB reference", bundle.KindRequest, "manifest", sealed(withManifest(func(m *bundle.Manifest) { m.Reference = huge }, a))},
		{"1 MiB reason in a receipt", bundle.KindReceipt, "manifest", sealed(withManifest(receipt))},
		{"1 MiB sender", bundle.KindRequest, "manifest", sealed(withManifest(func(m *bundle.Manifest) { m.Sender = huge }, a))},
	}
	byFile := map[string]string{}
	for _, c := range cases {
		name := us + "_" + uk + "_" + c.kind + "_" + bundle.NewID() + ".pgp"
		must(t, os.WriteFile(filepath.Join(w.srv.root, us+"-to-"+uk, name), c.data, 0o644))
		byFile[name] = c.name
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("%s was %s", name, c.name)
			}
		})
	}
	res := w.sides[uk].eng.RunPartner(t.Context(), exchange.RunOptions{Partner: us})
	if res.Err != nil || res.Refused != len(cases) || res.Filed != 0 {
		t.Fatalf("run: refused %d, filed %d, err %v; want %d refused", res.Refused, res.Filed, res.Err, len(cases))
	}
	rejected := map[string]audit.Record{}
	for _, r := range w.records(uk, audit.EvRejected) {
		rejected[r.File] = r
	}
	for _, c := range cases {
		for name, what := range byFile {
			if what != c.name {
				continue
			}
			r, ok := rejected[name]
			if !ok || r.Code != c.code {
				t.Errorf("%s: rejected record %+.300v, want code %s", c.name, r, c.code)
			}
			if len(r.Error) > 4096 {
				t.Errorf("%s: the logged error is %d bytes", c.name, len(r.Error))
			}
			var rj struct{ Code, Reason string }
			readJSONFile(t, filepath.Join(w.sides[uk].state("quarantine", us), name+".reason.json"), &rj)
			if rj.Code != c.code {
				t.Errorf("%s: quarantined with code %q", c.name, rj.Code)
			}
		}
	}
	if left := names(t, w.sides[uk].state("work", "in", us)); len(left) != 0 {
		t.Errorf("work/in holds %v", left)
	}
	again := w.run(uk, us)
	if again.Refused != 0 || again.Pushed != 0 {
		t.Errorf("second run refused %d, pushed %d: something stuck", again.Refused, again.Pushed)
	}
	// The sender reads the rejected receipts: their reasons are within bounds.
	w.run(us, uk)
	if got := len(w.records(us, audit.EvReceipt)); got != len(cases)-1 {
		t.Errorf("sender read %d receipts, want %d (none for a receipt)", got, len(cases)-1)
	}
}

// TestHugeRemoteNameIsLogged: a server that lists a 100,000-byte name of
// control characters (600 KB once escaped; the SFTP client takes no packet over 256 KiB) has it skipped and
// logged, cut, and the run succeeds.
func TestHugeRemoteNameIsLogged(t *testing.T) {
	t.Parallel()
	name := strings.Repeat("\x01", 100000) + ".pgp"
	w := newWorld(t, lyingServer(t, sftpd.WithExtraNames(name)), "", us, uk)
	res := w.run(uk, us)
	if res.Refused != 0 || res.Filed != 0 {
		t.Fatalf("refused %d, filed %d", res.Refused, res.Filed)
	}
	skipped := w.records(uk, "remote.skipped")
	if len(skipped) != 1 || !strings.HasPrefix(name, strings.Split(skipped[0].File, "...")[0]) || len(skipped[0].File) > 2048 {
		t.Fatalf("skipped records %+.300v", skipped)
	}
	checkNothingFetched(t, w)
}
