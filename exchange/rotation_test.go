package exchange_test

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/crypto"
	"github.com/sealpost/sealpost/exchange"
	"github.com/sealpost/sealpost/exchange/audit"
)

// TestKeyRotation: a partner rotating its key without downtime. We pin the
// old and the new key at once; bundles signed by either are filed, and our
// receipts reach the partner whichever key it holds. Once the old pin is
// dropped, a bundle signed by the old key is refused as unknown_signer.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	w := newWorld(t, loopbackServer(t), "", "us-cbp", "uk-hmrc")
	us, uk := w.sides["us-cbp"], w.sides["uk-hmrc"]
	base := filepath.Dir(uk.dir)
	ukSecret := filepath.Join(uk.dir, "keys", "uk-hmrc.secret.asc")
	ukPublic := filepath.Join(base, "uk-hmrc.public.asc")
	oldSecret, err := os.ReadFile(ukSecret)
	must(t, err)
	oldPublic, err := os.ReadFile(ukPublic)
	must(t, err)
	newSecret, newPublic, newFP, err := crypto.GenerateKey("uk-hmrc", crypto.KeyEd25519, nil)
	must(t, err)

	// We pin both keys; the partner's key file holds both.
	must(t, os.WriteFile(ukPublic, append(append([]byte{}, oldPublic...), newPublic...), 0o644))
	setPins(t, us, uk.fp, uk.fp, newFP)
	w.start(us)

	// A bundle signed by the old key, then one by the new key.
	w.send("uk-hmrc", "us-cbp", "OLD-KEY", "", map[string]string{"a.txt": "signed by the old key"})
	w.run("uk-hmrc", "us-cbp")
	w.run("us-cbp", "uk-hmrc")
	must(t, os.WriteFile(ukSecret, newSecret, 0o600))
	w.start(uk)
	w.send("uk-hmrc", "us-cbp", "NEW-KEY", "", map[string]string{"b.txt": "signed by the new key"})
	w.run("uk-hmrc", "us-cbp")
	res := w.run("us-cbp", "uk-hmrc")
	if res.Refused != 0 {
		t.Fatalf("a bundle was refused during the rotation: %+v", res)
	}
	refs := map[string]bool{}
	for _, m := range w.inbox("us-cbp", "uk-hmrc") {
		refs[m.Reference] = true
	}
	if !refs["OLD-KEY"] || !refs["NEW-KEY"] {
		t.Fatalf("filed %v, want both OLD-KEY and NEW-KEY", refs)
	}
	// Our receipts are readable with the partner's new key.
	w.run("uk-hmrc", "us-cbp")
	if got := len(w.records("uk-hmrc", audit.EvReceipt)); got != 2 {
		t.Fatalf("the partner took %d receipts, want 2", got)
	}

	// Both keys show in status, for the operator to see the rotation.
	sts, err := us.eng.Status("uk-hmrc")
	must(t, err)
	var fps []string
	for _, k := range sts[0].Keys {
		fps = append(fps, k.Owner+":"+k.Fingerprint)
	}
	if want := []string{"us-cbp:" + us.fp, "uk-hmrc:" + uk.fp, "uk-hmrc:" + newFP}; strings.Join(fps, " ") != strings.Join(want, " ") {
		t.Fatalf("status keys %v, want %v", fps, want)
	}

	// Rotation done: only the new key stays pinned. The old key is refused.
	setPins(t, us, uk.fp, newFP)
	w.start(us)
	must(t, os.WriteFile(ukSecret, oldSecret, 0o600))
	w.start(uk)
	w.send("uk-hmrc", "us-cbp", "STALE", "", map[string]string{"c.txt": "signed by the retired key"})
	w.run("uk-hmrc", "us-cbp")
	res = us.eng.RunPartner(t.Context(), exchange.RunOptions{Partner: "uk-hmrc"})
	if res.Refused != 1 {
		t.Fatalf("a bundle signed by an unpinned key: %+v, want 1 refused", res)
	}
	rej := w.records("us-cbp", audit.EvRejected)
	if len(rej) != 1 || rej[0].Code != "unknown_signer" {
		t.Fatalf("rejections %+v, want one unknown_signer", rej)
	}
}

// setPins rewrites the fingerprints pinned for a partner in s's
// configuration: the list holding old becomes fps.
func setPins(t *testing.T, s *side, old string, fps ...string) {
	t.Helper()
	data, err := os.ReadFile(s.cfgPath)
	must(t, err)
	i := strings.Index(string(data), `fingerprints: ["`+old)
	if i < 0 {
		t.Fatalf("no fingerprints list with %s in %s", old, s.cfgPath)
	}
	end := i + strings.Index(string(data[i:]), "]") + 1
	list := `fingerprints: ["` + strings.Join(fps, `", "`) + `"]`
	must(t, os.WriteFile(s.cfgPath, []byte(string(data[:i])+list+string(data[end:])), 0o600))
}

// TestStatusKeyExpiry: a key expiring within 30 days is flagged in status.
func TestStatusKeyExpiry(t *testing.T) {
	t.Parallel()
	w := newWorld(t, loopbackServer(t), "", "us-cbp", "uk-hmrc")
	us := w.sides["us-cbp"]
	secret, _, fp, err := crypto.GenerateKeyWith("us-cbp", crypto.KeyOptions{Lifetime: 20 * 24 * time.Hour})
	must(t, err)
	must(t, os.WriteFile(filepath.Join(us.dir, "keys", "us-cbp.secret.asc"), secret, 0o600))
	w.start(us)
	sts, err := us.eng.Status("")
	must(t, err)
	k := sts[0].Keys[0]
	if k.Owner != "us-cbp" || k.Fingerprint != fp || k.Expires == nil || !k.ExpiresSoon {
		t.Fatalf("our key in status: %+v, want %s expiring soon", k, fp)
	}
	if p := sts[0].Keys[1]; p.Expires != nil || p.ExpiresSoon {
		t.Fatalf("the partner's key in status: %+v, want never expiring", p)
	}
	if ks := us.eng.KeyStates(); len(ks) != 2 || ks[0].Fingerprint != fp {
		t.Fatalf("KeyStates: %+v", ks)
	}
	// A run warns about it in the operator's log.
	var logBuf bytes.Buffer
	eng, err := exchange.New(us.cfg, slog.New(slog.NewTextHandler(&logBuf, nil)))
	must(t, err)
	defer eng.Close()
	if _, err := eng.Run(t.Context(), exchange.RunOptions{PullOnly: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logBuf.String(), `msg="key expires soon; rotate it" owner=us-cbp fingerprint=`+fp) {
		t.Fatalf("no warning about our expiring key in the log:\n%s", logBuf.String())
	}
}
