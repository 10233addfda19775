package crypto

import (
	"bufio"
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/sealpost/sealpost/internal/safetext"
)

// OpenOptions tune Open.
type OpenOptions struct {
	// MaxBytes bounds the decompressed literal data; 0 means no limit (tests only).
	MaxBytes int64
	// Now is the time for the "signature not from the future" check; zero = now.
	// Key validity is checked at the signature's creation time.
	Now time.Time
}

// MaxClockSkew is how far a signature's creation time may lie after Now.
const MaxClockSkew = 5 * time.Minute

// allowedHashes are the signature hashes Open accepts (SHA-256 or stronger).
var allowedHashes = map[crypto.Hash]bool{
	crypto.SHA256: true, crypto.SHA384: true, crypto.SHA512: true,
	crypto.SHA3_256: true, crypto.SHA3_512: true,
}

// weakHashes are refused in message and key binding signatures alike.
var weakHashes = map[crypto.Hash]bool{
	crypto.MD5: true, crypto.SHA1: true, crypto.RIPEMD160: true, crypto.SHA224: true,
}

// weakPublicKeyAlgorithms are refused for signing, verifying and encrypting.
var weakPublicKeyAlgorithms = map[packet.PublicKeyAlgorithm]bool{
	packet.PubKeyAlgoElGamal: true, packet.PubKeyAlgoDSA: true,
}

// Message is a message being opened: an io.Reader over its plaintext.
// Data read before Read returns io.EOF is UNVERIFIED; io.EOF means the
// integrity check and the signature verification succeeded. Any other error
// wraps one of ErrDecrypt, ErrIntegrity, ErrUnsigned, ErrUnknownSigner or
// ErrLimits (see Code), or is an I/O error of the source (Code "").
// After an error every Read returns it again.
type Message struct {
	md      *openpgp.MessageDetails
	from    *Peer
	opt     OpenOptions
	src     *errReader
	outer   *framer       // the message as sent
	inner   *framer       // the decrypted stream
	tail    *bufio.Reader // armoured: what follows the armour's body
	armored bool
	n       int64 // literal bytes delivered
	err     error
	signer  string
}

// Open decrypts src with self and verifies it against from only: the
// verification key ring is from's pinned keys and nothing else (our own key
// verifies only when from is self.Public()). It refuses at once a message
// that is not OpenPGP, not encrypted to us, not integrity-protected or not
// signed; everything else is checked as the returned Message is read.
// src may be binary or armoured ("PGP MESSAGE").
func Open(src io.Reader, self *Self, from *Peer, opt OpenOptions) (*Message, error) {
	if opt.Now.IsZero() {
		opt.Now = time.Now()
	}
	self, from = self.fresh(), from.fresh()
	m := &Message{from: from, opt: opt, src: &errReader{r: src}}
	body, err := m.unarmor()
	if err != nil {
		return nil, err
	}
	// go-crypto refuses signatures made after its "now": allow for skew.
	cfg := policyConfig(opt.Now.Add(MaxClockSkew))
	ring := &keyRing{self: self, from: from}
	m.outer = newOuterFramer(body)
	rec := &recorder{r: m.outer}
	inner, key, cipher := openSEIPD1(rec, ring, self, cfg)
	m.outer.opened = inner != nil
	if inner == nil && ring.openedSession {
		return nil, m.fail(refuse(ErrIntegrity, errors.New("a session key our key opened does not decrypt the data")))
	}
	if inner == nil {
		// go-crypto only says why the message cannot be opened, with our
		// public key alone: were it to decrypt, its decrypted stream would
		// bypass the inner framer.
		ring.public = true
		if _, err := openpgp.ReadMessage(rec.replay(), ring, nil, cfg); err != nil {
			return nil, m.fail(classifyHeader(err, ring.offeredSelf))
		}
		return nil, m.fail(refuse(ErrDecrypt, errors.New("the message's layout is not one sealpost opens")))
	}
	// Decrypted with our key: what follows is the signed message inside,
	// and every error in it is an integrity failure.
	m.inner = newInnerFramer(inner, from)
	md, err := openpgp.ReadMessage(m.inner, ring, nil, cfg)
	if err != nil {
		return nil, m.fail(classifyBody(maskSensitive(err)))
	}
	// What go-crypto records when it decrypts (the signature's intended
	// recipients are checked against it at the end).
	md.IsEncrypted, md.DecryptedWith, md.DecryptedWithAlgorithm = true, key, cipher
	m.md = md
	if !md.IsSigned {
		return nil, m.fail(refuse(ErrUnsigned, errors.New("message carries no signature")))
	}
	return m, nil
}

// unarmor returns the binary message, decoding armour if src starts with it.
func (m *Message) unarmor() (io.Reader, error) {
	br := bufio.NewReader(m.src)
	first, err := br.Peek(1)
	if err != nil {
		return nil, m.fail(refuse(ErrDecrypt, fmt.Errorf("empty message: %w", err)))
	}
	if first[0]&0x80 != 0 {
		return br, nil
	}
	if err := skipArmourHead(br); err != nil {
		return nil, m.fail(refuse(ErrDecrypt, fmt.Errorf("neither binary OpenPGP nor armour: %w", err)))
	}
	// The decoder reads through rest itself (it reuses a bufio.Reader), so
	// that what it leaves is what follows the armour.
	rest := bufio.NewReader(io.MultiReader(strings.NewReader(armourBegin+"\n\n"), br))
	block, err := armor.Decode(rest)
	if err != nil {
		return nil, m.fail(refuse(ErrDecrypt, fmt.Errorf("neither binary OpenPGP nor armour: %w", err)))
	}
	m.armored, m.tail = true, rest
	return block.Body, nil
}

// maxArmourHead bounds what an armoured message may hold up to the blank
// line that ends its header, maxArmourLine one line of it: the armour
// decoder keeps the header whole, in a map, and joins a long header line by
// repeated concatenation (quadratic). So Open reads the header itself and
// hands the decoder the message without it.
const (
	maxArmourHead = 64 << 10
	maxArmourLine = 4 << 10
)

// armourBegin is the line that begins an armoured message.
const armourBegin = "-----BEGIN PGP MESSAGE-----"

// skipArmourHead reads br up to the blank line that ends the armour's
// header, within maxArmourHead octets: lines before the begin line
// (ignored, as the decoder does), the begin line, and "key: value" lines.
func skipArmourHead(br *bufio.Reader) error {
	begun, read := false, 0
	for {
		line, err := br.ReadSlice('\n')
		read += len(line)
		switch {
		case err == bufio.ErrBufferFull || len(line) > maxArmourLine:
			return fmt.Errorf("an armour line is longer than %d octets", maxArmourLine)
		case read > maxArmourHead:
			return fmt.Errorf("no end of the armour's header within %d octets", maxArmourHead)
		case err != nil:
			return fmt.Errorf("the armour's header: %w", unexpected(err))
		}
		line = bytes.TrimSpace(line)
		switch {
		case !begun && string(line) == armourBegin:
			begun = true
		case !begun && bytes.HasPrefix(line, []byte("-----BEGIN ")):
			return fmt.Errorf("armour block %s is not a PGP MESSAGE", safetext.Quote(string(line)))
		case begun && len(line) == 0:
			return nil
		case begun && !bytes.Contains(line, []byte(":")):
			return fmt.Errorf("armour header line %s is not \"key: value\"", safetext.Quote(string(line)))
		}
	}
}

// policyConfig is the go-crypto configuration for reading and verifying.
func policyConfig(now time.Time) *packet.Config {
	return &packet.Config{
		Time:                        func() time.Time { return now },
		MinRSABits:                  2048,
		RejectHashAlgorithms:        weakHashes,
		RejectMessageHashAlgorithms: weakHashes,
		RejectPublicKeyAlgorithms:   weakPublicKeyAlgorithms,
	}
}

// Armored reports whether the message was ASCII-armoured.
func (m *Message) Armored() bool { return m.armored }

// Signer returns the pinned fingerprint (lowercase hex) that vouches for
// the verified signer: its primary key's, or its own when the signer is a
// pinned signing subkey whose primary is not pinned. It is "" until Read
// has returned io.EOF.
func (m *Message) Signer() string { return m.signer }

// Read reads plaintext. See Message for what io.EOF and errors mean.
func (m *Message) Read(p []byte) (int, error) {
	if m.err != nil {
		return 0, m.err
	}
	n, err := m.md.UnverifiedBody.Read(p)
	m.n += int64(n)
	if m.opt.MaxBytes > 0 && m.n > m.opt.MaxBytes {
		over := m.n - m.opt.MaxBytes
		return n - int(min(over, int64(n))), m.fail(refuse(ErrLimits,
			fmt.Errorf("literal data exceeds %d bytes", m.opt.MaxBytes)))
	}
	switch {
	case err == io.EOF:
		if ferr := m.inner.finish(); ferr != nil {
			return n, m.fail(classifyBody(maskSensitive(ferr)))
		}
		if terr := m.checkTail(); terr != nil {
			return n, m.fail(terr)
		}
		if verr := m.verify(); verr != nil {
			return n, m.fail(verr)
		}
		m.err = io.EOF
		return n, io.EOF
	case err != nil:
		return n, m.fail(classifyBody(maskSensitive(err)))
	}
	return n, nil
}

// armorEnd is the line that ends an armoured message.
const armorEnd = "-----END PGP MESSAGE-----"

// checkTail refuses anything after an armoured message but its end line
// (which the armour reader leaves unread after a checksum line) and white
// space: data after the encrypted packet, in armour as in binary.
func (m *Message) checkTail() error {
	if m.tail == nil {
		return nil
	}
	endSeen := false
	for {
		line, err := m.tail.ReadSlice('\n')
		trimmed := bytes.TrimSpace(line)
		switch {
		case len(trimmed) == 0:
		case !endSeen && err != bufio.ErrBufferFull && string(trimmed) == armorEnd:
			endSeen = true
		default:
			return refuse(ErrIntegrity, errors.New("data follows the armoured message"))
		}
		if err == io.EOF {
			return nil
		}
		if err != nil && err != bufio.ErrBufferFull {
			return err
		}
	}
}

// maskSensitive hides the detail of a failure inside decrypted data, as
// go-crypto does for its own decryption (no oracle for modified
// ciphertext). The framers' own refusals are kept apart (see fail).
func maskSensitive(err error) error {
	return pgperrors.HandleSensitiveParsingError(err, true)
}

// fail records err as the sticky error, unless a reader below has its own
// account of what went wrong, which go-crypto would hide behind a generic
// parsing error: the source's I/O error first, then a framer's refusal.
func (m *Message) fail(err error) error {
	switch {
	case m.src.err != nil:
		err = fmt.Errorf("read message: %w", m.src.err)
	case m.outer.refusal() != nil:
		err = m.outer.refusal()
	case m.inner.refusal() != nil:
		err = m.inner.refusal()
	}
	m.err = err
	return err
}

// verify applies the policy once the body has been read to EOF.
func (m *Message) verify() error {
	md := m.md
	if !md.IsVerified {
		return refuse(ErrUnsigned, errors.New("signature was not verified"))
	}
	if sel := md.SelectedCandidate; sel != nil && sel.CorrespondingSig != nil {
		if t := sel.CorrespondingSig.CreationTime; t.After(m.opt.Now.Add(MaxClockSkew)) {
			return refuse(ErrUnsigned, fmt.Errorf("signature made at %s, in the future", t.UTC().Format(time.RFC3339)))
		}
	}
	if md.SignatureError != nil {
		return classifySignature(md.SignatureError, md.SelectedCandidate)
	}
	if md.Signature == nil || md.SignedBy == nil {
		return refuse(ErrUnsigned, errors.New("no verified signature"))
	}
	if !allowedHashes[md.Signature.Hash] {
		return refuse(ErrUnsigned, fmt.Errorf("signature hash %s is weaker than SHA-256", md.Signature.Hash))
	}
	fp, ok := m.from.signerPinned(md.SignedBy)
	if !ok {
		return refuse(ErrUnknownSigner, fmt.Errorf("signed by %s", fp))
	}
	m.signer = fp
	return nil
}

// classifySignature maps go-crypto's signature error to a refusal.
func classifySignature(err error, sel *openpgp.SignatureCandidate) error {
	if errors.Is(err, pgperrors.ErrUnknownIssuer) && sel != nil {
		return refuse(ErrUnknownSigner, fmt.Errorf("signed by key id %016x: %w", sel.IssuerKeyId, err))
	}
	if errors.Is(err, pgperrors.ErrUnknownIssuer) {
		return refuse(ErrUnknownSigner, err)
	}
	return refuse(ErrUnsigned, err)
}

// signerPinned returns the pinned fingerprint that vouches for the signing
// key k, and whether there is one: the primary's when k belongs to one of
// p's primary-pinned entities, k's own when k is a pinned signing subkey
// of one of p's signer entities (whose primary key never verifies).
func (p *Peer) signerPinned(k *openpgp.Key) (string, bool) {
	fp := fingerprint(k.Entity)
	if slices.Contains(p.entities, k.Entity) {
		return fp, p.pinned[fp]
	}
	if p.pinnedSubkey(k) {
		return hexFingerprint(k.PublicKey), true
	}
	return fp, false
}

// keyRing offers Open's two key sets to go-crypto: our own key only under the
// ids of our decryption-only keys (and the wildcard id 0 of hidden
// recipients), the partner's keys as peerRing offers them.
type keyRing struct {
	self        *Self
	from        *Peer
	offeredSelf bool // a session key packet named one of our keys
	// openedSession: our key opened a session key packet.
	openedSession bool
	// public: offer our public key alone, which decrypts nothing.
	public bool
}

// EntitiesById implements openpgp.KeyRing.
func (r *keyRing) EntitiesById(id uint64) []*openpgp.Entity {
	out := peerRing{r.from}.EntitiesById(id)
	if id == 0 || r.self.decryptIDs[id] {
		out = append(out, r.self.offered(r.public))
		r.offeredSelf = true
	}
	return out
}

// offered returns our entity, or our public key alone when public is set.
func (s *Self) offered(public bool) *openpgp.Entity {
	if public {
		return s.public
	}
	return s.entity
}

// KeysById implements openpgp.KeyRing.
func (r *keyRing) KeysById(id uint64) []openpgp.Key {
	return openpgp.EntityList(r.EntitiesById(id)).KeysById(id)
}

// peerRing offers a partner's keys to go-crypto: its primary-pinned
// entities under all their ids, its signer entities under the ids of their
// pinned signing subkeys only.
type peerRing struct{ p *Peer }

// EntitiesById implements openpgp.KeyRing.
func (r peerRing) EntitiesById(id uint64) []*openpgp.Entity {
	var out []*openpgp.Entity
	for _, e := range r.p.entities {
		if hasKeyID(e, id) {
			out = append(out, e)
		}
	}
	for _, e := range r.p.signers {
		if r.p.hasPinnedSubkeyID(e, id) {
			out = append(out, e)
		}
	}
	return out
}

// KeysById implements openpgp.KeyRing.
func (r peerRing) KeysById(id uint64) []openpgp.Key {
	return openpgp.EntityList(r.EntitiesById(id)).KeysById(id)
}

// hasPinnedSubkeyID reports whether e has a pinned subkey with key id id.
func (p *Peer) hasPinnedSubkeyID(e *openpgp.Entity, id uint64) bool {
	for _, sk := range e.Subkeys {
		if sk.PublicKey.KeyId == id && p.pinned[hexFingerprint(sk.PublicKey)] {
			return true
		}
	}
	return false
}

func hasKeyID(e *openpgp.Entity, id uint64) bool {
	if e.PrimaryKey.KeyId == id {
		return true
	}
	for _, sk := range e.Subkeys {
		if sk.PublicKey.KeyId == id {
			return true
		}
	}
	return false
}

// errReader remembers the first error of the underlying reader other than EOF.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}
