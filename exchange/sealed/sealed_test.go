package sealed_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/crypto"
	"github.com/sealpost/sealpost/exchange/bundle"
	"github.com/sealpost/sealpost/exchange/sealed"
)

// pair makes a Pair whose partner "uk-hmrc" holds our own key (self and
// peer are one key), so one side seals what the other opens.
func pair(t *testing.T) sealed.Pair {
	t.Helper()
	secret, _, _, err := crypto.GenerateKey("us-cbp", crypto.KeyEd25519, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "us.key")
	if err := os.WriteFile(path, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	self, err := crypto.LoadSelf(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &config.Partner{ID: "uk-hmrc", Limits: config.Limits{MaxBytes: 1 << 20, MaxFiles: 10}}
	return sealed.Pair{Self: self, Peer: self.Public(), Partner: p, SelfID: "us-cbp"}
}

// seal seals one file per body (report.txt, then report-1.txt, …), from
// the partner to us.
func seal(t *testing.T, p sealed.Pair, bodies ...string) []byte {
	t.Helper()
	var paths []string
	for i, body := range bodies {
		name := "report.txt"
		if i > 0 {
			name = fmt.Sprintf("report-%d.txt", i)
		}
		paths = append(paths, filepath.Join(t.TempDir(), name))
		if err := os.WriteFile(paths[i], []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	srcs, err := bundle.SourcesForPaths(paths)
	if err != nil {
		t.Fatal(err)
	}
	m := &bundle.Manifest{Format: bundle.Format, ID: bundle.NewID(), Kind: bundle.KindRequest,
		Sender: "uk-hmrc", Recipient: "us-cbp", Created: time.Now().UTC().Truncate(time.Second),
		Reference: "CASE-7", Files: []bundle.File{}}
	var buf, plain bytes.Buffer
	if err := p.Seal(&buf, m, srcs, &plain); err != nil {
		t.Fatal(err)
	}
	if plain.Len() == 0 {
		t.Fatal("Seal wrote no plaintext to pt")
	}
	return buf.Bytes()
}

// TestSealOpen: what Seal writes, Open verifies and unpacks as it was.
func TestSealOpen(t *testing.T) {
	p := pair(t)
	dir := t.TempDir()
	m, err := p.Open(bytes.NewReader(seal(t, p, "for us-cbp only")), dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "payload", "report.txt"))
	if err != nil || string(got) != "for us-cbp only" || m.Reference != "CASE-7" {
		t.Fatalf("opened %q (%v), reference %q", got, err, m.Reference)
	}
}

// TestRefusalCode: a tampered bundle, one beyond the partner's limits and
// one naming another recipient are refusals with their receipt codes; a
// local error is none.
func TestRefusalCode(t *testing.T) {
	p := pair(t)
	data := seal(t, p, "for us-cbp only")
	tampered := bytes.Clone(data)
	tampered[len(tampered)/2] ^= 1
	_, err := p.Open(bytes.NewReader(tampered), t.TempDir())
	if code := sealed.RefusalCode(err); code == "" {
		t.Fatalf("tampered bundle: %v, no refusal code", err)
	}
	small := p
	small.Partner = &config.Partner{ID: "uk-hmrc", Limits: config.Limits{MaxBytes: 1 << 20, MaxFiles: 1}}
	_, err = small.Open(bytes.NewReader(seal(t, p, "x", "y")), t.TempDir())
	if code := sealed.RefusalCode(err); code != "limits" {
		t.Fatalf("two files for a limit of one: %v, code %q, want limits", err, code)
	}
	other := p
	other.SelfID = "fr-dgddi"
	_, err = other.Open(bytes.NewReader(seal(t, p, "x")), t.TempDir())
	if code := sealed.RefusalCode(err); code != "manifest" {
		t.Fatalf("bundle for another recipient: %v, code %q, want manifest", err, code)
	}
	if code := sealed.RefusalCode(os.ErrNotExist); code != "" {
		t.Fatalf("local error: code %q, want none", code)
	}
}

// TestSealerError: a partner whose OpenPGP profile the sealer cannot take
// fails before anything is written, with an error wrapping ErrSealer that
// names the partner.
func TestSealerError(t *testing.T) {
	p := pair(t)
	p.Partner = &config.Partner{ID: "uk-hmrc", PGP: config.PGP{Profile: "rfc1991"}}
	var buf bytes.Buffer
	err := p.Seal(&buf, &bundle.Manifest{}, nil, nil)
	if !errors.Is(err, sealed.ErrSealer) || !bytes.Contains([]byte(err.Error()), []byte("uk-hmrc")) {
		t.Fatalf("Seal with profile rfc1991: %v, want ErrSealer naming uk-hmrc", err)
	}
	if buf.Len() != 0 {
		t.Fatalf("Seal wrote %d bytes before failing", buf.Len())
	}
}
