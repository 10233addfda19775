package crypto

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// party is a generated identity with its key files on disk.
type party struct {
	id         string
	self       *Self
	secretPath string
	publicPath string
	fp         string
}

var (
	fixtureDir string
	partiesMu  sync.Mutex
	partyCache = map[string]*party{}
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sealpost-crypto-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fixtureDir = dir
	code := m.Run()
	if world != nil {
		world.home.close()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// cachedParty returns the party named id (key made once per test binary).
func cachedParty(t testing.TB, id string, algo KeyAlgo) *party {
	t.Helper()
	partiesMu.Lock()
	defer partiesMu.Unlock()
	if p, ok := partyCache[id]; ok {
		return p
	}
	p := newParty(t, fixtureDir, id, algo, nil)
	partyCache[id] = p
	return p
}

// newParty generates a key for id and writes it under dir.
func newParty(t testing.TB, dir, id string, algo KeyAlgo, passphrase []byte) *party {
	t.Helper()
	secret, public, fp, err := GenerateKey(id, algo, passphrase)
	if err != nil {
		t.Fatal(err)
	}
	p := &party{id: id, fp: fp,
		secretPath: filepath.Join(dir, id+".secret.asc"),
		publicPath: filepath.Join(dir, id+".public.asc")}
	writeFile(t, p.secretPath, secret)
	writeFile(t, p.publicPath, public)
	if p.self, err = LoadSelf(p.secretPath, passphrase); err != nil {
		t.Fatal(err)
	}
	return p
}

// peer loads p's public key pinned to its fingerprint.
func (p *party) peer(t testing.TB) *Peer {
	t.Helper()
	peer, err := LoadPeer(p.publicPath, []string{p.fp})
	if err != nil {
		t.Fatal(err)
	}
	return peer
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// sealBytes seals data from self to peer.
func sealBytes(t testing.TB, self *Self, to *Peer, opt SealOptions, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := Seal(&buf, self, to, opt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// openBytes opens msg and reads it to the end.
func openBytes(msg []byte, self *Self, from *Peer, opt OpenOptions) ([]byte, *Message, error) {
	m, err := Open(bytes.NewReader(msg), self, from, opt)
	if err != nil {
		return nil, nil, err
	}
	data, err := io.ReadAll(m)
	return data, m, err
}

// wantRefusal checks that err wraps want (and only maps to its code).
func wantRefusal(t testing.TB, err, want error) {
	t.Helper()
	if err == nil {
		t.Fatalf("message accepted, want refusal %v", want)
	}
	if !errors.Is(err, want) {
		t.Fatalf("error %v (code %q), want %v", err, Code(err), want)
	}
	t.Logf("refused (%s): %v", Code(err), err)
	n := 0
	for _, c := range codes {
		if errors.Is(err, c.err) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("error %v wraps %d sentinels, want exactly 1", err, n)
	}
}

// aeadParty is a party whose key advertises SEIPDv2 (features and AEAD
// cipher suites), as a key made by an RFC 9580 implementation does.
func aeadParty(t testing.TB, id string) *party {
	t.Helper()
	partiesMu.Lock()
	defer partiesMu.Unlock()
	if p, ok := partyCache[id]; ok {
		return p
	}
	cfg := &packet.Config{
		Algorithm: packet.PubKeyAlgoEdDSA, Curve: packet.Curve25519,
		DefaultCipher: packet.CipherAES256,
		AEADConfig:    &packet.AEADConfig{DefaultMode: packet.AEADModeGCM},
	}
	p := entityParty(t, id, cfg, func(e *openpgp.Entity) {})
	partyCache[id] = p
	return p
}

// entityParty makes a party from a new go-crypto entity; edit may change
// the entity after the secret key file is written and before the public key
// file is: the party signs with the unedited key, others see the edited one.
func entityParty(t testing.TB, id string, cfg *packet.Config, edit func(*openpgp.Entity)) *party {
	t.Helper()
	e, err := openpgp.NewEntity("sealpost", "", id, cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := &party{id: id, fp: fingerprint(e),
		secretPath: filepath.Join(fixtureDir, id+".secret.asc"),
		publicPath: filepath.Join(fixtureDir, id+".public.asc")}
	secret, err := armored(openpgp.PrivateKeyType, func(w io.Writer) error { return e.SerializePrivate(w, cfg) })
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, p.secretPath, secret)
	ents, err := readKeys(bytes.NewReader(secret))
	if err != nil {
		t.Fatal(err)
	}
	if p.self, err = newSelf(ents[0]); err != nil {
		t.Fatal(err)
	}
	edit(e)
	public, err := armored(openpgp.PublicKeyType, e.Serialize)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, p.publicPath, public)
	return p
}
