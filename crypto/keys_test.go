package crypto

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
)

func TestLoadSelfPassphrase(t *testing.T) {
	dir := t.TempDir()
	pass := []byte("correct horse battery staple")
	p := newParty(t, dir, "protected", KeyEd25519, pass)
	cases := []struct {
		name string
		pass []byte
	}{
		{"missing passphrase", nil},
		{"wrong passphrase", []byte("Tr0ub4dor&3")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadSelf(p.secretPath, c.pass)
			if !errors.Is(err, ErrPassphrase) {
				t.Fatalf("error %v, want ErrPassphrase", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, p.secretPath) || !strings.Contains(msg, p.fp) {
				t.Fatalf("error %q does not name the file and key", msg)
			}
			if strings.Contains(msg, string(pass)) || (len(c.pass) > 0 && strings.Contains(msg, string(c.pass))) {
				t.Fatalf("error %q reveals a passphrase", msg)
			}
		})
	}
	if p.self.Fingerprint() != p.fp {
		t.Fatalf("fingerprint %s, want %s", p.self.Fingerprint(), p.fp)
	}
}

func TestLoadSelfBinaryAndUnprotectedWithPassphrase(t *testing.T) {
	p := cachedParty(t, "us-ed25519", KeyEd25519)
	block, err := armor.Decode(bytes.NewReader(readFile(t, p.secretPath)))
	if err != nil {
		t.Fatal(err)
	}
	var bin bytes.Buffer
	bin.ReadFrom(block.Body)
	path := filepath.Join(t.TempDir(), "secret.gpg")
	writeFile(t, path, bin.Bytes())
	self, err := LoadSelf(path, []byte("ignored for an unprotected key"))
	if err != nil {
		t.Fatal(err)
	}
	if self.Fingerprint() != p.fp {
		t.Fatalf("fingerprint %s, want %s", self.Fingerprint(), p.fp)
	}
}

func TestLoadSelfErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	us := cachedParty(t, "us-ed25519", KeyEd25519)
	them := cachedParty(t, "them-ed25519", KeyEd25519)
	junk := make([]byte, 200)
	rand.Read(junk)
	files := map[string][]byte{
		"public-only.asc": readFile(t, us.publicPath),
		"two-secrets.asc": append(readFile(t, us.secretPath), readFile(t, them.secretPath)...),
		"junk.gpg":        junk,
		"empty.asc":       nil,
	}
	for name, data := range files {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			writeFile(t, path, data)
			_, err := LoadSelf(path, nil)
			if err == nil || !strings.Contains(err.Error(), path) {
				t.Fatalf("error %v does not name %s", err, path)
			}
		})
	}
	_, err := LoadSelf(filepath.Join(dir, "missing.asc"), nil)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestLoadPeerPinning(t *testing.T) {
	them := cachedParty(t, "them-ed25519", KeyEd25519)
	other := cachedParty(t, "other-ed25519", KeyEd25519)
	both := filepath.Join(t.TempDir(), "both.asc")
	writeFile(t, both, append(readFile(t, them.publicPath), readFile(t, other.publicPath)...))

	_, err := LoadPeer(both, []string{strings.Repeat("ab", 20)})
	if !errors.Is(err, ErrNotPinned) {
		t.Fatalf("error %v, want ErrNotPinned", err)
	}
	for _, want := range []string{both, them.fp, other.fp} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not name %s", err, want)
		}
	}

	spaced := strings.ToUpper(them.fp[:20]) + " " + them.fp[20:]
	peer, err := LoadPeer(both, []string{spaced})
	if err != nil {
		t.Fatal(err)
	}
	if fps := peer.Fingerprints(); len(fps) != 1 || fps[0] != them.fp {
		t.Fatalf("fingerprints %v, want only %s", fps, them.fp)
	}
}

// A pinned signing-capable subkey fingerprint selects its entity too.
func TestLoadPeerPinnedSubkey(t *testing.T) {
	them := cachedParty(t, "them-ed25519", KeyEd25519)
	sub := hexFingerprint(them.self.entity.Subkeys[0].PublicKey)
	peer, err := LoadPeer(them.publicPath, []string{sub})
	if err != nil {
		t.Fatal(err)
	}
	if fps := peer.Fingerprints(); len(fps) != 1 || fps[0] != them.fp {
		t.Fatalf("fingerprints %v", fps)
	}
}

func TestSelfPublicIsPinnedToSelf(t *testing.T) {
	us := cachedParty(t, "us-ed25519", KeyEd25519)
	pub := us.self.Public()
	if fps := pub.Fingerprints(); len(fps) != 1 || fps[0] != us.fp {
		t.Fatalf("fingerprints %v", fps)
	}
	if pub.entities[0].PrivateKey != nil {
		t.Fatal("Public carries private key material")
	}
}
