package crypto

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

var checkpointText = []byte("{\n  \"format\": \"sealpost-checkpoint/1\",\n  \"seq\": 42\n}\n")

func TestClearSignRoundTrip(t *testing.T) {
	t.Parallel()
	us := cachedParty(t, "us-ed25519", KeyEd25519)
	other := cachedParty(t, "other-ed25519", KeyEd25519)
	var out bytes.Buffer
	if err := ClearSign(&out, us.self, checkpointText); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out.Bytes(), []byte("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n")) {
		t.Fatalf("not a clearsigned SHA-256 message:\n%s", out.Bytes())
	}
	text, fp, err := VerifyClearSigned(out.Bytes(), us.self.Public())
	if err != nil {
		t.Fatal(err)
	}
	if fp != us.fp || string(text)+"\n" != string(checkpointText) {
		t.Errorf("verified %q by %s", text, fp)
	}
	if _, _, err := VerifyClearSigned(out.Bytes(), other.self.Public()); !errors.Is(err, ErrUnknownSigner) {
		t.Errorf("verified with another key: %v, want ErrUnknownSigner", err)
	}
	tampered := bytes.Replace(out.Bytes(), []byte(`"seq": 42`), []byte(`"seq": 43`), 1)
	if _, _, err := VerifyClearSigned(tampered, us.self.Public()); !errors.Is(err, ErrUnsigned) {
		t.Errorf("tampered text: %v, want ErrUnsigned", err)
	}
	if _, _, err := VerifyClearSigned(checkpointText, us.self.Public()); !errors.Is(err, ErrNotClearSigned) {
		t.Errorf("plain text: %v, want ErrNotClearSigned", err)
	}
}

func TestGPGVerifiesClearSign(t *testing.T) {
	t.Parallel()
	w := theGPGWorld(t)
	for _, us := range []*party{w.us, w.usRSA} {
		t.Run(us.id, func(t *testing.T) {
			var out bytes.Buffer
			if err := ClearSign(&out, us.self, checkpointText); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "checkpoint.asc")
			writeFile(t, path, out.Bytes())
			got, stderr, _ := w.home.run(nil, "--status-fd", "1", "--verify", path)
			f, ok := status(strings.Split(string(got), "\n")).find("VALIDSIG")
			if !ok || strings.ToLower(f[len(f)-1]) != us.fp || f[8] != "8" {
				t.Fatalf("gpg --verify:\n%s\n%s", got, stderr)
			}
			writeFile(t, path, bytes.Replace(out.Bytes(), []byte("42"), []byte("41"), 1))
			got, _, _ = w.home.run(nil, "--status-fd", "1", "--verify", path)
			if !status(strings.Split(string(got), "\n")).has("BADSIG") {
				t.Fatalf("tampered text not BADSIG:\n%s", got)
			}
		})
	}
}

func TestVerifyClearSignedByGPG(t *testing.T) {
	t.Parallel()
	w := theGPGWorld(t)
	signed := w.home.mustRun(t, checkpointText, "--local-user", w.ed, "--digest-algo", "SHA256", "--clearsign")
	text, fp, err := VerifyClearSigned(signed, gpgPeer(t, w.edPath, w.ed))
	if err != nil {
		t.Fatal(err)
	}
	if fp != strings.ToLower(w.ed) || string(text)+"\n" != string(checkpointText) {
		t.Errorf("verified %q by %s", text, fp)
	}
}
