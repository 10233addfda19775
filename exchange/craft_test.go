package exchange_test

import (
	"archive/tar"
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/rand"
	_ "crypto/sha1" // SHA-1 signatures are crafted to be refused
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	sealcrypto "github.com/sealpost/sealpost/crypto"
	"github.com/sealpost/sealpost/exchange/bundle"
)

// This file crafts hostile bundles by hand, packet by packet and tar entry
// by tar entry, for the refusal tests: what a careless or malicious
// partner could put on the drop.

// keyEntity reads the first key of an armoured key file (a side's secret
// key, or a public key) as a go-crypto entity.
func keyEntity(t testing.TB, path string) *openpgp.Entity {
	t.Helper()
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	ents, err := openpgp.ReadArmoredKeyRing(f)
	must(t, err)
	return ents[0]
}

// secretEntity is side s's own secret key.
func (s *side) secretEntity(t testing.TB) *openpgp.Entity {
	return keyEntity(t, filepath.Join(s.dir, "keys", s.id+".secret.asc"))
}

// publicKeyPath is where side s's public key file lives (every partner's
// configuration names it).
func (s *side) publicKeyPath() string {
	return filepath.Join(filepath.Dir(s.dir), s.id+".public.asc")
}

// signingKey returns e's current signing key.
func signingKey(t testing.TB, e *openpgp.Entity) *packet.PrivateKey {
	t.Helper()
	k, ok := e.SigningKey(time.Now(), &packet.Config{MinRSABits: 1024})
	if !ok {
		t.Fatal("no signing key")
	}
	return k.PrivateKey
}

// signed builds the plaintext of an OpenPGP message packet by packet: a
// one-pass signature opens the signed part, literal packets inside it are
// hashed, a signature closes it.
type signed struct {
	t    testing.TB
	key  *packet.PrivateKey
	hash crypto.Hash
	buf  bytes.Buffer
	h    hash.Hash
	md5  bool // label the hash MD5 (go-crypto cannot make one)
}

func newSigned(t testing.TB, key *packet.PrivateKey, h crypto.Hash) *signed {
	return &signed{t: t, key: key, hash: h}
}

// ops writes a one-pass signature packet and starts hashing.
func (s *signed) ops() *signed {
	var b bytes.Buffer
	ops := &packet.OnePassSignature{Version: 3, SigType: packet.SigTypeBinary, Hash: s.hash,
		PubKeyAlgo: s.key.PubKeyAlgo, KeyId: s.key.KeyId, IsLast: true}
	must(s.t, ops.Serialize(&b))
	if s.md5 {
		b.Bytes()[4] = 1 // hash algorithm id 1: MD5
	}
	s.buf.Write(b.Bytes())
	s.h = s.hash.New()
	return s
}

// lit writes a binary literal data packet, hashed when a one-pass
// signature is open.
func (s *signed) lit(data []byte) *signed {
	w, err := packet.SerializeLiteral(nopWriteCloser{&s.buf}, true, "", 0)
	must(s.t, err)
	_, err = w.Write(data)
	must(s.t, err)
	must(s.t, w.Close())
	if s.h != nil {
		s.h.Write(data)
	}
	return s
}

// sig writes the signature over what was hashed, made at `at`.
func (s *signed) sig(at time.Time) *signed {
	sig := &packet.Signature{Version: s.key.Version, SigType: packet.SigTypeBinary, PubKeyAlgo: s.key.PubKeyAlgo,
		Hash: s.hash, CreationTime: at, IssuerKeyId: &s.key.KeyId}
	must(s.t, sig.Sign(s.h, s.key, &packet.Config{Time: func() time.Time { return at }, NonDeterministicSignaturesViaNotation: new(bool)}))
	var b bytes.Buffer
	must(s.t, sig.Serialize(&b))
	if s.md5 {
		hdr := 2
		if b.Bytes()[1] >= 192 {
			hdr = 3
		}
		b.Bytes()[hdr+3] = 1
	}
	s.buf.Write(b.Bytes())
	s.h = nil
	return s
}

func (s *signed) bytes() []byte { return s.buf.Bytes() }

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// encryptRaw encrypts plaintext packets to the recipients' encryption
// keys with AES-256: in a SEIPDv1 packet with MDC, or, without mdc, in a
// Symmetrically Encrypted Data packet that has no integrity protection.
func encryptRaw(t testing.TB, plain []byte, mdc bool, to ...*openpgp.Entity) []byte {
	t.Helper()
	cfg := &packet.Config{DefaultCipher: packet.CipherAES256}
	key := make([]byte, 32)
	rand.Read(key)
	var out bytes.Buffer
	for _, e := range to {
		k, ok := e.EncryptionKey(time.Now(), cfg)
		if !ok {
			t.Fatal("no encryption key")
		}
		must(t, packet.SerializeEncryptedKeyAEAD(&out, k.PublicKey, packet.CipherAES256, false, key, cfg))
	}
	if mdc {
		w, err := packet.SerializeSymmetricallyEncrypted(&out, packet.CipherAES256, false, packet.CipherSuite{}, key, cfg)
		must(t, err)
		_, err = w.Write(plain)
		must(t, err)
		must(t, w.Close())
		return out.Bytes()
	}
	block, err := aes.NewCipher(key)
	must(t, err)
	iv := make([]byte, block.BlockSize())
	rand.Read(iv)
	stream, prefix := packet.NewOCFBEncrypter(block, iv, packet.OCFBResync)
	body := append(prefix, make([]byte, len(plain))...)
	stream.XORKeyStream(body[len(prefix):], plain)
	out.Write([]byte{0xc0 | 9, 0xff})
	binary.Write(&out, binary.BigEndian, uint32(len(body)))
	out.Write(body)
	return out.Bytes()
}

// tarEntry is one entry of a crafted bundle tar.
type tarEntry struct {
	hdr  tar.Header
	data []byte
}

func regEntry(name, data string) tarEntry {
	return tarEntry{tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(data)), Mode: 0o644,
		ModTime: time.Unix(1_800_000_000, 0), Format: tar.FormatPAX}, []byte(data)}
}

func specialEntry(flag byte, name, link string) tarEntry {
	return tarEntry{tar.Header{Typeflag: flag, Name: name, Linkname: link, Mode: 0o644,
		ModTime: time.Unix(1_800_000_000, 0), Format: tar.FormatPAX}, nil}
}

// manifestFor is a valid manifest from sender to recipient listing the
// regular files among entries.
func manifestFor(sender, recipient string, entries ...tarEntry) *bundle.Manifest {
	m := &bundle.Manifest{Format: bundle.Format, ID: bundle.NewID(), Kind: bundle.KindRequest, Sender: sender,
		Recipient: recipient, Created: time.Now().UTC().Truncate(time.Second), Reference: "hostile", Files: []bundle.File{}}
	for _, e := range entries {
		if e.hdr.Typeflag == tar.TypeReg {
			sum := sha256.Sum256(e.data)
			m.Files = append(m.Files, bundle.File{Path: e.hdr.Name, Size: int64(len(e.data)), SHA256: hex.EncodeToString(sum[:])})
		}
	}
	return m
}

func manifestEntry(t testing.TB, m *bundle.Manifest) tarEntry {
	data, err := json.Marshal(m)
	must(t, err)
	return regEntry("manifest.json", string(data))
}

// tarOf writes entries as a tar stream. A header whose Size is set larger
// than its data leaves the stream short, as a truncated archive would be.
func tarOf(t testing.TB, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := e.hdr
		if hdr.Typeflag == tar.TypeReg && hdr.Size == 0 {
			hdr.Size = int64(len(e.data))
		}
		must(t, tw.WriteHeader(&hdr))
		_, err := tw.Write(e.data)
		must(t, err)
		if int64(len(e.data)) < hdr.Size {
			return buf.Bytes() // a short entry: the stream ends here
		}
	}
	must(t, tw.Close())
	return buf.Bytes()
}

// patchBytes replaces the first old with new (same length) in data.
func patchBytes(t testing.TB, data []byte, old, new string) []byte {
	t.Helper()
	out := bytes.Clone(data)
	i := bytes.Index(out, []byte(old))
	if i < 0 || len(old) != len(new) {
		t.Fatalf("patch: %q not found or not the length of %q", old, new)
	}
	copy(out[i:], new)
	return out
}

// patchTar replaces old with new (same length) in a tar header block and
// fixes its checksum: for names Go's tar writer refuses to write (a NUL
// inside).
func patchTar(t testing.TB, data []byte, old, new string) []byte {
	t.Helper()
	out := patchBytes(t, data, old, new)
	i := bytes.Index(out, []byte(new))
	blk := out[i/512*512 : i/512*512+512]
	copy(blk[148:156], "        ")
	sum := 0
	for _, b := range blk {
		sum += int(b)
	}
	chk := []byte(strconv.FormatInt(int64(sum), 8))
	field := bytes.Repeat([]byte("0"), 6-len(chk))
	field = append(append(field, chk...), 0, ' ')
	copy(blk[148:156], field)
	return out
}

// sealPlain seals plaintext (a tar stream, or anything) with the real
// sealer from self to peer, as a well-behaved partner would.
func sealPlain(t testing.TB, self *sealcrypto.Self, to *sealcrypto.Peer, opt sealcrypto.SealOptions, plain []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := sealcrypto.Seal(&buf, self, to, opt)
	must(t, err)
	_, err = w.Write(plain)
	must(t, err)
	must(t, w.Close())
	return buf.Bytes()
}
