package crypto

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

func TestLoadSelfPassphrase(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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

func TestSelfPublicIsPinnedToSelf(t *testing.T) {
	t.Parallel()
	us := cachedParty(t, "us-ed25519", KeyEd25519)
	pub := us.self.Public()
	if fps := pub.Fingerprints(); len(fps) != 1 || fps[0] != us.fp {
		t.Fatalf("fingerprints %v", fps)
	}
	if pub.entities[0].PrivateKey != nil {
		t.Fatal("Public carries private key material")
	}
}

func TestInspect(t *testing.T) {
	t.Parallel()
	us := cachedParty(t, "us-ed25519", KeyEd25519)
	usRSA := cachedParty(t, "us-rsa4096", KeyRSA4096)
	v2 := aeadParty(t, "us-aead")
	cases := []struct {
		name       string
		path       string
		algo       string
		bits       int
		subAlgo    string
		secret     bool
		seipdv2    bool
		wantUserID string
	}{
		{"ed25519 secret", us.secretPath, "ed25519", 256, "cv25519", true, false, "sealpost <us-ed25519>"},
		{"ed25519 public", us.publicPath, "ed25519", 256, "cv25519", false, false, "sealpost <us-ed25519>"},
		{"rsa4096 public", usRSA.publicPath, "rsa", 4096, "rsa", false, false, "sealpost <us-rsa4096>"},
		{"advertises SEIPDv2", v2.publicPath, "ed25519", 256, "cv25519", false, true, "sealpost <us-aead>"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := os.Open(c.path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			infos, err := Inspect(f)
			if err != nil {
				t.Fatal(err)
			}
			if len(infos) != 1 {
				t.Fatalf("%d keys", len(infos))
			}
			k := infos[0]
			if k.Algorithm != c.algo || k.Bits != c.bits || k.Secret != c.secret || k.SEIPDv2 != c.seipdv2 {
				t.Fatalf("got %+v", k)
			}
			if len(k.UserIDs) != 1 || k.UserIDs[0] != c.wantUserID {
				t.Fatalf("user ids %q", k.UserIDs)
			}
			if k.Expires != nil || k.Revoked || k.Created.IsZero() {
				t.Fatalf("expires %v revoked %v created %v", k.Expires, k.Revoked, k.Created)
			}
			if len(k.Subkeys) != 1 || k.Subkeys[0].Algorithm != c.subAlgo || !k.Subkeys[0].Encrypt || k.Subkeys[0].Sign {
				t.Fatalf("subkeys %+v", k.Subkeys)
			}
		})
	}
}

func TestInspectExpiredAndRevoked(t *testing.T) {
	t.Parallel()
	expiring := backdatedParty(t, "inspect-expiring", func(e *openpgp.Entity, cfg *packet.Config) {
		for _, id := range e.Identities {
			sig, err := id.LatestValidSelfCertification(time.Time{}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			life := uint32(24 * 3600)
			sig.KeyLifetimeSecs = &life
			if err := id.ReSign(cfg); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.Revoke(packet.KeyRetired, "retired", cfg); err != nil {
			t.Fatal(err)
		}
	})
	infos, err := Inspect(bytes.NewReader(readFile(t, expiring.publicPath)))
	if err != nil {
		t.Fatal(err)
	}
	k := infos[0]
	if k.Expires == nil || !k.Expires.Equal(k.Created.Add(24*time.Hour)) || !k.Revoked {
		t.Fatalf("expires %v (created %v), revoked %v", k.Expires, k.Created, k.Revoked)
	}
}

func TestInspectRejectsNonKeys(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "hello", "-----BEGIN PGP MESSAGE-----\n\nwcBMA\n-----END PGP MESSAGE-----\n"} {
		if _, err := Inspect(strings.NewReader(in)); err == nil {
			t.Fatalf("Inspect(%q) succeeded", in)
		}
	}
}

func TestGenerateKeyUnknownAlgo(t *testing.T) {
	t.Parallel()
	if _, _, _, err := GenerateKey("x", "dsa1024", nil); err == nil {
		t.Fatal("unknown algorithm accepted")
	}
}

// A v6 (RFC 9580) key can seal and open too; its signatures are v6 with a
// salted one-pass signature packet.
func TestV6KeyRoundTrip(t *testing.T) {
	t.Parallel()
	cfg := &packet.Config{V6Keys: true, Algorithm: packet.PubKeyAlgoEd25519}
	v6 := entityParty(t, "v6", cfg, func(*openpgp.Entity) {})
	us := cachedParty(t, "us-ed25519", KeyEd25519)
	msg := sealBytes(t, v6.self, us.peer(t), SealOptions{}, []byte("v6 says hi"))
	got, m, err := openBytes(msg, us.self, v6.peer(t), OpenOptions{})
	if err != nil || string(got) != "v6 says hi" || m.Signer() != v6.fp {
		t.Fatalf("%q %v", got, err)
	}
	if m.md.Signature.Version != 6 {
		t.Fatalf("signature v%d", m.md.Signature.Version)
	}
}
