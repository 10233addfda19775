package crypto

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// sealCfg seals data like Seal but with cfg changed by edit first.
func sealCfg(t testing.TB, self *Self, to *Peer, opt SealOptions, edit func(*packet.Config), data []byte) []byte {
	t.Helper()
	cfg := sealConfig(time.Now())
	edit(cfg)
	var buf bytes.Buffer
	w, err := seal(&buf, self, to, opt, cfg)
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

// encryptOnly encrypts data to peer without any signature.
func encryptOnly(t testing.TB, to *Peer, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := openpgp.EncryptWithParams(&buf, to.entities, nil, &openpgp.EncryptParams{Config: sealConfig(time.Now())})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// signOnly signs data by self, without encryption.
func signOnly(t testing.TB, self *Self, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := openpgp.SignWithParams(&buf, []*openpgp.Entity{self.entity}, &openpgp.SignParams{Config: sealConfig(time.Now())})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sealNoMDC signs data by self and encrypts it to peer in a Symmetrically
// Encrypted Data packet (tag 9): no MDC, no integrity protection.
func sealNoMDC(t testing.TB, self *Self, to *Peer, data []byte) []byte {
	t.Helper()
	signed := signOnly(t, self, data)
	cfg := sealConfig(time.Now())
	sessionKey := make([]byte, 32)
	rand.Read(sessionKey)
	k, ok := to.entities[0].EncryptionKey(cfg.Now(), cfg)
	if !ok {
		t.Fatal("no encryption key")
	}
	var out bytes.Buffer
	if err := packet.SerializeEncryptedKeyAEAD(&out, k.PublicKey, packet.CipherAES256, false, sessionKey, cfg); err != nil {
		t.Fatal(err)
	}
	block, err := aes.NewCipher(sessionKey)
	if err != nil {
		t.Fatal(err)
	}
	iv := make([]byte, block.BlockSize())
	rand.Read(iv)
	stream, prefix := packet.NewOCFBEncrypter(block, iv, packet.OCFBResync)
	body := append(prefix, make([]byte, len(signed))...)
	stream.XORKeyStream(body[len(prefix):], signed)
	out.Write([]byte{0xc0 | 9, 0xff})
	binary.Write(&out, binary.BigEndian, uint32(len(body)))
	out.Write(body)
	return out.Bytes()
}

// zeros is an endless reader of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestOpenRefusals(t *testing.T) {
	t.Parallel()
	us := cachedParty(t, "us-ed25519", KeyEd25519)
	them := cachedParty(t, "them-ed25519", KeyEd25519)
	other := cachedParty(t, "other-ed25519", KeyEd25519)
	data := bytes.Repeat([]byte("sealpost "), 20_000)
	good := sealBytes(t, them.self, us.peer(t), SealOptions{}, data)
	goodV2 := sealBytes(t, them.self, us.peer(t), SealOptions{Profile: ProfileRFC9580}, data)
	random := make([]byte, 4096)
	rand.Read(random)

	cases := []struct {
		name string
		msg  []byte
		want error
	}{
		{"empty", nil, ErrDecrypt},
		{"garbage", random, ErrDecrypt},
		{"text", []byte("hello, this is not OpenPGP\n"), ErrDecrypt},
		{"armoured public key", readFile(t, them.publicPath), ErrDecrypt},
		{"encrypted to someone else", sealBytes(t, them.self, other.peer(t), SealOptions{NoSelfCopy: true}, data), ErrDecrypt},
		{"signed, not encrypted", signOnly(t, them.self, data), ErrDecrypt},
		{"encrypted, not signed", encryptOnly(t, us.peer(t), data), ErrUnsigned},
		{"signed by a key not in the partner's file", sealBytes(t, other.self, us.peer(t), SealOptions{}, data), ErrUnknownSigner},
		{"signed by our own key", sealBytes(t, us.self, us.self.Public(), SealOptions{}, data), ErrUnknownSigner},
		{"no MDC (SED packet)", sealNoMDC(t, them.self, us.peer(t), data), ErrIntegrity},
		{"v1 byte flipped in the middle", flip(good, len(good)/2), ErrIntegrity},
		{"v1 byte flipped in the MDC", flip(good, len(good)-5), ErrIntegrity},
		{"v2 byte flipped in the middle", flip(goodV2, len(goodV2)/2), ErrIntegrity},
		{"v2 byte flipped in the final tag", flip(goodV2, len(goodV2)-5), ErrIntegrity},
		{"v1 truncated in the data", good[:len(good)/2], ErrIntegrity},
		{"v1 truncated before the MDC", good[:len(good)-22], ErrIntegrity},
		{"v2 truncated in the data", goodV2[:len(goodV2)/2], ErrIntegrity},
		{"truncated in the session key packet", good[:40], ErrDecrypt},
		{"SHA-1 signature", sealCfg(t, them.self, us.peer(t), SealOptions{},
			func(c *packet.Config) {
				c.DefaultHash, c.NonDeterministicSignaturesViaNotation = crypto.SHA1, new(bool)
			}, data), ErrUnsigned},
		{"SHA-224 signature", sealCfg(t, them.self, us.peer(t), SealOptions{},
			func(c *packet.Config) { c.DefaultHash = crypto.SHA224 }, data), ErrUnsigned},
		{"signature 10 minutes in the future", sealBytes(t, them.self, us.peer(t),
			SealOptions{Time: time.Now().Add(10 * time.Minute)}, data), ErrUnsigned},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := openBytes(c.msg, us.self, them.peer(t), OpenOptions{MaxBytes: 1 << 20})
			wantRefusal(t, err, c.want)
		})
	}
}

func flip(msg []byte, i int) []byte {
	out := bytes.Clone(msg)
	out[i] ^= 0x01
	return out
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A key in the partner's file that is not pinned never verifies.
func TestOpenRefusesUnpinnedKeyInPartnerFile(t *testing.T) {
	t.Parallel()
	us := cachedParty(t, "us-ed25519", KeyEd25519)
	them := cachedParty(t, "them-ed25519", KeyEd25519)
	other := cachedParty(t, "other-ed25519", KeyEd25519)
	both := filepath.Join(t.TempDir(), "both.asc")
	writeFile(t, both, append(readFile(t, them.publicPath), readFile(t, other.publicPath)...))
	peer, err := LoadPeer(both, []string{them.fp})
	if err != nil {
		t.Fatal(err)
	}
	msg := sealBytes(t, other.self, us.peer(t), SealOptions{}, []byte("spoof"))
	_, _, err = openBytes(msg, us.self, peer, OpenOptions{})
	wantRefusal(t, err, ErrUnknownSigner)
	msg = sealBytes(t, them.self, us.peer(t), SealOptions{}, []byte("genuine"))
	if _, _, err := openBytes(msg, us.self, peer, OpenOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestOpenCompressionBomb(t *testing.T) {
	t.Parallel()
	us := cachedParty(t, "us-ed25519", KeyEd25519)
	them := cachedParty(t, "them-ed25519", KeyEd25519)
	var msg bytes.Buffer
	w, err := Seal(&msg, them.self, us.peer(t), SealOptions{Compress: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(w, zeros{}, 200<<20); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if msg.Len() > 1<<20 {
		t.Fatalf("bomb is %d bytes, want < 1 MiB", msg.Len())
	}
	m, err := Open(&msg, us.self, them.peer(t), OpenOptions{MaxBytes: 10 << 20})
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, m)
	wantRefusal(t, err, ErrLimits)
	if n > 10<<20 {
		t.Fatalf("%d bytes delivered past the 10 MiB limit", n)
	}
}

func TestOpenLimitUncompressed(t *testing.T) {
	t.Parallel()
	us := cachedParty(t, "us-ed25519", KeyEd25519)
	them := cachedParty(t, "them-ed25519", KeyEd25519)
	msg := sealBytes(t, them.self, us.peer(t), SealOptions{}, make([]byte, 1001))
	_, _, err := openBytes(msg, us.self, them.peer(t), OpenOptions{MaxBytes: 1000})
	wantRefusal(t, err, ErrLimits)
	if _, _, err := openBytes(msg, us.self, them.peer(t), OpenOptions{MaxBytes: 1001}); err != nil {
		t.Fatalf("exactly at the limit: %v", err)
	}
}

// backdatedParty makes a party whose key was created 72h ago; edit changes
// the published (public) key only, the signer keeps the original.
func backdatedParty(t testing.TB, id string, edit func(*openpgp.Entity, *packet.Config)) *party {
	t.Helper()
	created := time.Now().Add(-72 * time.Hour)
	cfg := &packet.Config{
		Algorithm: packet.PubKeyAlgoEdDSA, Curve: packet.Curve25519,
		Time: func() time.Time { return created },
	}
	return entityParty(t, id, cfg, func(e *openpgp.Entity) { edit(e, cfg) })
}

func TestOpenKeyValidityAtSigningTime(t *testing.T) {
	t.Parallel()
	us := cachedParty(t, "us-ed25519", KeyEd25519)
	expireAfter := func(d time.Duration) func(*openpgp.Entity, *packet.Config) {
		return func(e *openpgp.Entity, cfg *packet.Config) {
			for _, id := range e.Identities {
				sig, err := id.LatestValidSelfCertification(time.Time{}, cfg)
				if err != nil {
					t.Fatal(err)
				}
				life := uint32(d / time.Second)
				sig.KeyLifetimeSecs = &life
				if err := id.ReSign(cfg); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	revoke := func(e *openpgp.Entity, cfg *packet.Config) {
		at := time.Now().Add(-time.Hour)
		rc := &packet.Config{Time: func() time.Time { return at }}
		if err := e.Revoke(packet.KeyCompromised, "test", rc); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name     string
		edit     func(*openpgp.Entity, *packet.Config)
		signedAt time.Time
		want     error
	}{
		{"expired before signing", expireAfter(24 * time.Hour), time.Now(), ErrUnsigned},
		{"expired since, valid at signing", expireAfter(48 * time.Hour), time.Now().Add(-30 * time.Hour), nil},
		{"revoked before signing", revoke, time.Now(), ErrUnsigned},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			signer := backdatedParty(t, "validity-"+string(rune('a'+i)), c.edit)
			msg := sealBytes(t, signer.self, us.peer(t), SealOptions{Time: c.signedAt}, []byte("x"))
			_, _, err := openBytes(msg, us.self, signer.peer(t), OpenOptions{})
			if c.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantRefusal(t, err, c.want)
		})
	}
}

func TestOpenRefusesWeakRSA(t *testing.T) {
	t.Parallel()
	us := cachedParty(t, "us-ed25519", KeyEd25519)
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoRSA, RSABits: 1024, MinRSABits: 1024}
	weak := entityParty(t, "weak-rsa", cfg, func(*openpgp.Entity) {})
	msg := sealCfg(t, weak.self, us.peer(t), SealOptions{}, func(c *packet.Config) { c.MinRSABits = 1024 }, []byte("x"))
	// LoadPeer refuses to pin it (TestLoadPeerRefusesWeakKey); Open refuses
	// its signatures all the same.
	ents, err := readKeyFile(weak.publicPath)
	if err != nil {
		t.Fatal(err)
	}
	peer := &Peer{entities: ents, pinned: map[string]bool{weak.fp: true}}
	_, _, err = openBytes(msg, us.self, peer, OpenOptions{})
	wantRefusal(t, err, ErrUnsigned)
}

// A pinned key sealpost could never verify nor encrypt to is refused when
// it is loaded, naming the file and the key.
func TestLoadPeerRefusesWeakKey(t *testing.T) {
	t.Parallel()
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoRSA, RSABits: 1024, MinRSABits: 1024}
	weak := entityParty(t, "weak-rsa-load", cfg, func(*openpgp.Entity) {})
	_, err := LoadPeer(weak.publicPath, []string{weak.fp})
	if !errors.Is(err, ErrWeakKey) || !strings.Contains(err.Error(), weak.fp) || !strings.Contains(err.Error(), weak.publicPath) {
		t.Fatalf("LoadPeer of an RSA-1024 key = %v, want ErrWeakKey naming the key and file", err)
	}
}

// Random input is always ErrDecrypt, whatever packets it happens to parse as.
func TestOpenGarbageIsDecrypt(t *testing.T) {
	t.Parallel()
	us := cachedParty(t, "us-ed25519", KeyEd25519)
	them := cachedParty(t, "them-ed25519", KeyEd25519)
	for i := range 500 {
		junk := make([]byte, 1+i*7)
		rand.Read(junk)
		_, _, err := openBytes(junk, us.self, them.peer(t), OpenOptions{MaxBytes: 1 << 20})
		if Code(err) != "decrypt" {
			t.Fatalf("input %x: error %v, code %q", junk[:min(len(junk), 16)], err, Code(err))
		}
	}
}
