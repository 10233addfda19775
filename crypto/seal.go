package crypto

import (
	"bufio"
	"crypto"
	"crypto/rand"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// Profile selects the OpenPGP message format Seal writes.
type Profile string

// Profiles (SPEC §5 pgp.profile).
const (
	// ProfileAuto writes SEIPDv2 (RFC 9580, AEAD) when every recipient key
	// advertises it (features subpacket and AEAD cipher-suite preferences),
	// otherwise ProfileRFC4880.
	ProfileAuto Profile = "auto"
	// ProfileRFC4880 writes SEIPDv1 with MDC and v3 PKESKs: what GnuPG 2.2 reads.
	ProfileRFC4880 Profile = "rfc4880"
	// ProfileRFC9580 always writes SEIPDv2 with v6 PKESKs, even to keys that
	// do not advertise it (the partner asked for it by configuration); the
	// AEAD mode is the best one every key lists, else OCB (mandatory in RFC 9580).
	ProfileRFC9580 Profile = "rfc9580"
)

// SealOptions tune Seal. The zero value seals with ProfileAuto, no
// compression, binary output, a copy to ourselves, and the current time.
type SealOptions struct {
	Profile    Profile
	Compress   bool      // zlib-compress the signed data
	Armor      bool      // ASCII armour ("PGP MESSAGE")
	NoSelfCopy bool      // do not also encrypt to our own key
	Time       time.Time // signature time (our key must be valid then); zero = now
}

// sealCipher is the only cipher Seal uses.
const sealCipher = packet.CipherAES256

// Seal returns a writer: plaintext written to it is signed by self (one-pass
// signature, SHA-256, binary literal data with no file name) and encrypted
// with AES-256 to every key of to and, unless opt.NoSelfCopy, to self
// (recipient keys must be valid at the time of the call). The
// message goes to dst as it is written (constant memory). The caller MUST
// Close the writer to finish the message; Close does not close dst.
func Seal(dst io.Writer, self *Self, to *Peer, opt SealOptions) (io.WriteCloser, error) {
	now := opt.Time
	if now.IsZero() {
		now = time.Now()
	}
	return seal(dst, self, to, opt, sealConfig(now))
}

// seal is Seal with the go-crypto configuration given (tests vary it).
func seal(dst io.Writer, self *Self, to *Peer, opt SealOptions, cfg *packet.Config) (io.WriteCloser, error) {
	self, to = self.fresh(), to.fresh()
	keys, err := encryptionKeys(self, to, opt.NoSelfCopy, time.Now(), cfg)
	if err != nil {
		return nil, err
	}
	v2, suite, err := chooseFormat(opt.Profile, keys, cfg)
	if err != nil {
		return nil, err
	}
	sw := &sealWriter{}
	out := dst
	if opt.Armor {
		aw, err := armor.Encode(dst, openpgp.MessageType, nil)
		if err != nil {
			return nil, fmt.Errorf("seal: armour: %w", err)
		}
		sw.push(aw)
		out = aw
	}
	enc, err := encryptTo(out, keys, v2, suite, cfg)
	if err != nil {
		return nil, err
	}
	sw.push(enc)
	inner := io.WriteCloser(enc)
	if opt.Compress {
		comp, err := packet.SerializeCompressed(nopCloser{enc}, packet.CompressionZLIB, nil)
		if err != nil {
			return nil, fmt.Errorf("seal: compression: %w", err)
		}
		sw.push(comp)
		inner = comp
	}
	sign, err := newSigner(inner, self, keys, cfg)
	if err != nil {
		return nil, err
	}
	_, sign.inline = inner.(*seipd1Writer)
	sw.push(sign)
	return sw, nil
}

// sealConfig is the go-crypto configuration for writing. AEADConfig stays
// nil: SEIPDv2 is chosen explicitly per message, never advertised.
func sealConfig(now time.Time) *packet.Config {
	return &packet.Config{
		DefaultCipher: sealCipher,
		DefaultHash:   crypto.SHA256,
		Time:          func() time.Time { return now },
		MinRSABits:    2048,
		// The same key policy as Open: keys Open refuses are not used.
		RejectHashAlgorithms:      weakHashes,
		RejectPublicKeyAlgorithms: weakPublicKeyAlgorithms,
	}
}

// recipientKey is one encryption key and the entity it belongs to.
type recipientKey struct {
	entity *openpgp.Entity
	key    openpgp.Key
}

// encryptionKeys selects the encryption key of every pinned entity of to and
// of self (unless noSelf), each entity once.
func encryptionKeys(self *Self, to *Peer, noSelf bool, now time.Time, cfg *packet.Config) ([]recipientKey, error) {
	ents := append([]*openpgp.Entity(nil), to.entities...)
	if !noSelf {
		ents = append(ents, self.public)
	}
	seen := map[string]bool{}
	var keys []recipientKey
	for _, e := range ents {
		fp := fingerprint(e)
		if seen[fp] {
			continue
		}
		seen[fp] = true
		k, err := e.EncryptionKeyWithError(now, cfg)
		if err != nil {
			return nil, fmt.Errorf("seal: recipient key %s has no usable encryption key: %w", fp, err)
		}
		keys = append(keys, recipientKey{entity: e, key: k})
	}
	return keys, nil
}

// aeadSuites are the SEIPDv2 cipher suites Seal may use, best first.
var aeadSuites = []packet.CipherSuite{
	{Cipher: sealCipher, Mode: packet.AEADModeGCM},
	{Cipher: sealCipher, Mode: packet.AEADModeOCB},
	{Cipher: sealCipher, Mode: packet.AEADModeEAX},
}

// chooseFormat decides SEIPDv1 or v2 for profile and, for v2, the AEAD suite.
func chooseFormat(p Profile, keys []recipientKey, cfg *packet.Config) (bool, packet.CipherSuite, error) {
	fallback := packet.CipherSuite{Cipher: sealCipher, Mode: packet.AEADModeOCB}
	all := true
	suites := append([]packet.CipherSuite(nil), aeadSuites...)
	for _, k := range keys {
		sig, err := k.entity.PrimarySelfSignature(time.Now(), cfg)
		if err != nil || !sig.SEIPDv2 || len(sig.PreferredCipherSuites) == 0 {
			all = false
			continue
		}
		suites = keepListed(suites, sig.PreferredCipherSuites)
	}
	if len(suites) == 0 {
		suites = []packet.CipherSuite{fallback}
	}
	switch p {
	case ProfileAuto, "":
		return all, suites[0], nil
	case ProfileRFC4880:
		return false, packet.CipherSuite{}, nil
	case ProfileRFC9580:
		return true, suites[0], nil
	}
	return false, packet.CipherSuite{}, fmt.Errorf("seal: unknown profile %q (want auto, rfc4880 or rfc9580)", p)
}

// keepListed keeps the suites that prefs lists.
func keepListed(suites []packet.CipherSuite, prefs [][2]uint8) []packet.CipherSuite {
	var kept []packet.CipherSuite
	for _, s := range suites {
		for _, p := range prefs {
			if p[0] == uint8(s.Cipher) && p[1] == uint8(s.Mode) {
				kept = append(kept, s)
				break
			}
		}
	}
	return kept
}

// encryptTo writes one PKESK per key and returns the writer of the
// integrity-protected encrypted data packet (SEIPDv1+MDC or SEIPDv2).
func encryptTo(out io.Writer, keys []recipientKey, v2 bool, suite packet.CipherSuite, cfg *packet.Config) (io.WriteCloser, error) {
	sessionKey := make([]byte, sealCipher.KeySize())
	if _, err := io.ReadFull(rand.Reader, sessionKey); err != nil {
		return nil, fmt.Errorf("seal: session key: %w", err)
	}
	defer clear(sessionKey)
	for _, k := range keys {
		if err := packet.SerializeEncryptedKeyAEAD(out, k.key.PublicKey, sealCipher, v2, sessionKey, cfg); err != nil {
			return nil, fmt.Errorf("seal: encrypt session key to %s: %w", fingerprint(k.entity), err)
		}
	}
	if !v2 {
		enc, err := newSEIPD1(out, sessionKey)
		if err != nil {
			return nil, fmt.Errorf("seal: encrypted data packet: %w", err)
		}
		return enc, nil
	}
	enc, err := packet.SerializeSymmetricallyEncrypted(out, sealCipher, v2, suite, sessionKey, cfg)
	if err != nil {
		return nil, fmt.Errorf("seal: encrypted data packet: %w", err)
	}
	return enc, nil
}

// signer writes a one-pass signature packet, the literal data packet, and at
// Close the signature packet, hashing the plaintext as it passes.
type signer struct {
	out io.Writer      // where the signature packet goes
	lit io.WriteCloser // the literal data packet body
	h   hash.Hash
	// inline: hash on the caller's goroutine (the encryption below has
	// its own, see Write).
	inline bool
	sig    *packet.Signature
	priv   *packet.PrivateKey
	cfg    *packet.Config
}

// newSigner starts the one-pass-signed literal data in out, signed by self's
// signing key with intended-recipient subpackets for keys.
func newSigner(out io.WriteCloser, self *Self, keys []recipientKey, cfg *packet.Config) (*signer, error) {
	k, ok := self.entity.SigningKey(cfg.Now(), cfg)
	if !ok || k.PrivateKey == nil {
		return nil, fmt.Errorf("seal: our key %s has no usable signing key at %s", self.Fingerprint(), cfg.Now().UTC().Format(time.RFC3339))
	}
	s := &signer{out: out, priv: k.PrivateKey, cfg: cfg}
	s.sig = &packet.Signature{
		Version:      k.PrivateKey.Version,
		SigType:      packet.SigTypeBinary,
		PubKeyAlgo:   k.PrivateKey.PubKeyAlgo,
		Hash:         signHash(k.PublicKey, cfg.Hash()),
		CreationTime: cfg.Now(),
		IssuerKeyId:  &k.PrivateKey.KeyId,
	}
	for _, r := range keys {
		pk := r.entity.PrimaryKey
		s.sig.IntendedRecipients = append(s.sig.IntendedRecipients, &packet.Recipient{KeyVersion: pk.Version, Fingerprint: pk.Fingerprint})
	}
	if err := s.start(); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return s, nil
}

// start writes the one-pass signature packet and opens the literal data.
func (s *signer) start() error {
	ops := &packet.OnePassSignature{
		Version:    3,
		SigType:    s.sig.SigType,
		Hash:       s.sig.Hash,
		PubKeyAlgo: s.sig.PubKeyAlgo,
		KeyId:      s.priv.KeyId,
		IsLast:     true,
	}
	s.h = s.sig.Hash.New()
	if s.priv.Version == 6 {
		salt, err := packet.SignatureSaltForHash(s.sig.Hash, rand.Reader)
		if err != nil {
			return err
		}
		if err := s.sig.SetSalt(salt); err != nil {
			return err
		}
		ops.Version, ops.KeyFingerprint, ops.Salt = 6, s.priv.Fingerprint, salt
		s.h.Write(salt)
	}
	if err := ops.Serialize(s.out); err != nil {
		return err
	}
	lit, err := newLiteral(s.out)
	if err != nil {
		return err
	}
	s.lit = lit
	return nil
}

// signHash is h (SHA-256 in Seal) unless the key needs a longer hash
// (RFC 9580 §5.2.3.2: Ed448 and the 384/512-bit curves).
func signHash(pub *packet.PublicKey, h crypto.Hash) crypto.Hash {
	if pub.PubKeyAlgo == packet.PubKeyAlgoEd448 {
		return crypto.SHA512
	}
	curve, err := pub.Curve()
	if err != nil {
		return h
	}
	switch curve {
	case packet.CurveNistP384, packet.CurveBrainpoolP384:
		return crypto.SHA384
	case packet.CurveNistP521, packet.CurveBrainpoolP512, packet.Curve448:
		return crypto.SHA512
	}
	return h
}

// parallelHashMin is the write size from which the signature hash runs in
// its own goroutine, beside the encryption of the same bytes.
const parallelHashMin = 16 << 10

// Write hashes p and writes it to the literal data. Over SEIPDv1 both run
// on the caller's goroutine: the encrypted data packet encrypts on a
// goroutine of its own, and a third busy goroutine on two cores only
// delays it. Otherwise (SEIPDv2 encrypts inline) a large p is hashed in a
// goroutine beside the encryption.
func (s *signer) Write(p []byte) (int, error) {
	if s.inline || len(p) < parallelHashMin {
		s.h.Write(p)
		return s.lit.Write(p)
	}
	var wg sync.WaitGroup
	wg.Go(func() { s.h.Write(p) })
	n, err := s.lit.Write(p)
	wg.Wait()
	return n, err
}

// Close ends the literal data and writes the signature packet.
func (s *signer) Close() error {
	if err := s.lit.Close(); err != nil {
		return err
	}
	if err := s.sig.Sign(s.h, s.priv, s.cfg); err != nil {
		return fmt.Errorf("seal: sign: %w", err)
	}
	return s.sig.Serialize(s.out)
}

// sealWriter writes to the innermost layer, through a buffer of one chunk
// so that the layers below see large writes (each hashes beside the
// cipher's work), and closes the layers inside out.
type sealWriter struct {
	layers []io.WriteCloser // outermost first
	buf    *bufio.Writer
	err    error
}

func (w *sealWriter) push(l io.WriteCloser) { w.layers = append(w.layers, l) }

func (w *sealWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.buf == nil {
		w.buf = bufio.NewWriterSize(w.layers[len(w.layers)-1], chunkSize)
	}
	n, err := w.buf.Write(p)
	if err != nil {
		w.err = fmt.Errorf("seal: write: %w", err)
	}
	return n, w.err
}

// Close finishes the message: signature, compression, encryption, armour.
func (w *sealWriter) Close() error {
	if w.err != nil {
		return w.err
	}
	if w.buf != nil {
		if err := w.buf.Flush(); err != nil {
			w.err = fmt.Errorf("seal: write: %w", err)
			return w.err
		}
	}
	for i := len(w.layers) - 1; i >= 0; i-- {
		if err := w.layers[i].Close(); err != nil {
			w.err = fmt.Errorf("seal: finish message: %w", err)
			return w.err
		}
	}
	w.err = errClosed
	return nil
}

var errClosed = errors.New("seal: writer already closed")

// nopCloser turns a Writer into a WriteCloser whose Close does nothing, so a
// packet writer cannot close the layer below it.
type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
