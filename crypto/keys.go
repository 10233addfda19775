// Package crypto is sealpost's OpenPGP layer: our own secret key (Self), a
// partner's pinned public keys (Peer), Seal (sign then encrypt, streaming),
// Open (decrypt and verify under a strict policy, streaming), key generation,
// inspection and detached signatures. It uses github.com/ProtonMail/go-crypto's
// openpgp/v2 API only.
package crypto

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// Self is our identity: one secret key entity, decrypted and ready to sign
// and decrypt.
type Self struct {
	entity *openpgp.Entity
	// decryptIDs are the key ids of our keys that may decrypt but never sign:
	// the only ids under which Open offers our key, so a message signed by
	// us is never verified unless the caller opens it as from our own Peer.
	decryptIDs map[uint64]bool
	public     *openpgp.Entity // our public key alone, for Public
}

// Peer is a partner's public keys, reduced to what is pinned: the
// entities whose primary key is pinned (we encrypt to them and accept
// their signatures), and the entities kept only for a pinned signing
// subkey with a valid back-signature (that subkey alone may verify; nothing
// in them is ever encrypted to).
type Peer struct {
	entities []*openpgp.Entity
	signers  []*openpgp.Entity
	pinned   map[string]bool
}

// LoadSelf reads our secret key from path, armoured (as `gpg
// --export-secret-keys --armor` writes it) or binary, and decrypts it with
// passphrase when it is protected. The file must hold exactly one secret key
// able to sign and decrypt. Errors name the file; a missing or wrong
// passphrase wraps ErrPassphrase (the passphrase itself is never printed).
func LoadSelf(path string, passphrase []byte) (*Self, error) {
	ents, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	var secret []*openpgp.Entity
	for _, e := range ents {
		if e.PrivateKey != nil {
			secret = append(secret, e)
		}
	}
	if len(secret) != 1 {
		return nil, fmt.Errorf("secret key file %s: holds %d secret keys, want exactly 1", path, len(secret))
	}
	e := secret[0]
	if err := unlock(e, passphrase); err != nil {
		return nil, fmt.Errorf("secret key file %s: key %s: %w", path, fingerprint(e), err)
	}
	if err := checkUsable(e); err != nil {
		return nil, fmt.Errorf("secret key file %s: key %s: %w", path, fingerprint(e), err)
	}
	s, err := newSelf(e)
	if err != nil {
		return nil, fmt.Errorf("secret key file %s: key %s: %w", path, fingerprint(e), err)
	}
	return s, nil
}

// newSelf wraps a decrypted secret key entity.
func newSelf(e *openpgp.Entity) (*Self, error) {
	pub, err := publicCopy(e)
	if err != nil {
		return nil, err
	}
	return &Self{entity: e, decryptIDs: decryptOnlyIDs(e), public: pub}, nil
}

// publicCopy returns e's public part as a separate entity.
func publicCopy(e *openpgp.Entity) (*openpgp.Entity, error) {
	var buf bytes.Buffer
	if err := e.Serialize(&buf); err != nil {
		return nil, fmt.Errorf("serialize public key: %w", err)
	}
	pub, err := openpgp.ReadEntity(packet.NewReader(&buf))
	if err != nil {
		return nil, fmt.Errorf("re-read public key: %w", err)
	}
	return pub, nil
}

// unlock decrypts the protected private keys of e.
func unlock(e *openpgp.Entity, passphrase []byte) error {
	if !isProtected(e) {
		return nil
	}
	if len(passphrase) == 0 {
		return fmt.Errorf("key is passphrase-protected and no passphrase was given: %w", ErrPassphrase)
	}
	if err := e.DecryptPrivateKeys(passphrase); err != nil {
		return fmt.Errorf("cannot decrypt with the passphrase given: %w", ErrPassphrase)
	}
	return nil
}

func isProtected(e *openpgp.Entity) bool {
	if e.PrivateKey != nil && e.PrivateKey.Encrypted {
		return true
	}
	for _, sk := range e.Subkeys {
		if sk.PrivateKey != nil && sk.PrivateKey.Encrypted {
			return true
		}
	}
	return false
}

// checkUsable reports why e cannot serve as our identity now.
func checkUsable(e *openpgp.Entity) error {
	cfg := policyConfig(time.Now())
	if _, err := e.VerifyPrimaryKey(cfg.Now(), cfg); err != nil {
		return fmt.Errorf("not valid now: %w", err)
	}
	sk, ok := e.SigningKey(cfg.Now(), cfg)
	if !ok || sk.PrivateKey == nil || sk.PrivateKey.Dummy() {
		return fmt.Errorf("has no usable secret signing key")
	}
	for _, k := range e.DecryptionKeys(0, cfg.Now(), cfg) {
		if k.PrivateKey != nil && !k.PrivateKey.Dummy() {
			return nil
		}
	}
	return fmt.Errorf("has no usable secret decryption key")
}

// decryptOnlyIDs lists the key ids of e's keys flagged for encryption but not
// for signing.
func decryptOnlyIDs(e *openpgp.Entity) map[uint64]bool {
	ids := map[uint64]bool{}
	for _, sk := range e.Subkeys {
		sig, err := sk.Verify(time.Time{}, nil)
		if err != nil || !sig.FlagsValid || sig.FlagSign {
			continue
		}
		if sig.FlagEncryptCommunications || sig.FlagEncryptStorage {
			ids[sk.PublicKey.KeyId] = true
		}
	}
	return ids
}

// fresh returns a copy of s for one operation: go-crypto caches signature
// checks inside the entity (unsynchronised, and under the config of the
// first call), so every Seal and Open works on its own copies.
func (s *Self) fresh() *Self {
	return &Self{entity: cloneEntity(s.entity), decryptIDs: s.decryptIDs, public: cloneEntity(s.public)}
}

// fresh returns a copy of p for one operation (see Self.fresh).
func (p *Peer) fresh() *Peer {
	c := &Peer{pinned: p.pinned}
	for _, e := range p.entities {
		c.entities = append(c.entities, cloneEntity(e))
	}
	for _, e := range p.signers {
		c.signers = append(c.signers, cloneEntity(e))
	}
	return c
}

// cloneEntity copies e's structure with unverified signature wrappers; key
// and signature packets are shared (go-crypto only reads them).
func cloneEntity(e *openpgp.Entity) *openpgp.Entity {
	c := *e
	c.Revocations = cloneSigs(e.Revocations)
	c.DirectSignatures = cloneSigs(e.DirectSignatures)
	c.Identities = make(map[string]*openpgp.Identity, len(e.Identities))
	for name, id := range e.Identities {
		ic := *id
		ic.Primary = &c
		ic.SelfCertifications = cloneSigs(id.SelfCertifications)
		ic.OtherCertifications = cloneSigs(id.OtherCertifications)
		ic.Revocations = cloneSigs(id.Revocations)
		c.Identities[name] = &ic
	}
	c.Subkeys = make([]openpgp.Subkey, len(e.Subkeys))
	for i, sk := range e.Subkeys {
		sk.Primary = &c
		sk.Bindings = cloneSigs(sk.Bindings)
		sk.Revocations = cloneSigs(sk.Revocations)
		c.Subkeys[i] = sk
	}
	return &c
}

func cloneSigs(sigs []*packet.VerifiableSignature) []*packet.VerifiableSignature {
	out := make([]*packet.VerifiableSignature, len(sigs))
	for i, s := range sigs {
		out[i] = packet.NewVerifiableSig(s.Packet)
	}
	return out
}

// Fingerprint returns our primary key's fingerprint, lowercase hex.
func (s *Self) Fingerprint() string { return fingerprint(s.entity) }

// Public returns our own public key as a Peer pinned to our fingerprint: to
// open our own sent copies, or to encrypt to ourselves.
func (s *Self) Public() *Peer {
	return &Peer{entities: []*openpgp.Entity{s.public}, pinned: map[string]bool{s.Fingerprint(): true}}
}

// LoadPeer reads a partner's public key(s) from path, armoured or binary.
// pinned lists fingerprints (40 or 64 hex digits, any case, spaces ignored).
// It keeps an entity only if its primary key is pinned: Seal encrypts to
// those alone and Open accepts their signatures. A pinned subkey counts
// only as a signing subkey bound to its primary with a valid back-signature:
// its entity is kept for that subkey to verify signatures, and is never
// encrypted to. Everything else in the file is dropped (CheckKeyFile
// reports what of it would be usable). It refuses a file holding secret key
// material, one where a kept key occurs twice (two copies of a pinned key
// would leave the choice between them, and a revocation in one of them, to
// the order of the file), and one with no pinned primary key (an error
// wrapping ErrNotPinned that names the file and the fingerprints found).
func LoadPeer(path string, pinned []string) (*Peer, error) {
	ents, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	p := &Peer{pinned: map[string]bool{}}
	for _, fp := range pinned {
		p.pinned[normFingerprint(fp)] = true
	}
	if err := noSecretKeys(ents); err != nil {
		return nil, fmt.Errorf("public key file %s: %w", path, err)
	}
	var found []string
	for _, e := range ents {
		found = append(found, fingerprint(e))
		switch {
		case p.pinned[fingerprint(e)]:
			p.entities = append(p.entities, e)
		case len(p.pinnedSigningSubkeys(e)) > 0:
			p.signers = append(p.signers, e)
		}
	}
	if len(p.entities) == 0 {
		return nil, fmt.Errorf("public key file %s: no pinned primary key among the keys found %s: %w",
			path, strings.Join(found, ", "), ErrNotPinned)
	}
	if err := p.checkKept(); err != nil {
		return nil, fmt.Errorf("public key file %s: %w", path, err)
	}
	return p, nil
}

// checkKept refuses kept keys with more parts than maxKeyParts, kept keys
// too weak to ever be used, and a key that occurs twice among the kept
// entities.
func (p *Peer) checkKept() error {
	for _, e := range append(slices.Clip(p.entities), p.signers...) {
		if n := keyParts(e); n > maxKeyParts {
			return fmt.Errorf("key %s: %w: it holds %d subkeys, user ids and self-signatures, more than %d; export it without old subkeys and signatures (gpg --export --export-options export-clean)",
				fingerprint(e), ErrKeyFileTooLarge, n, maxKeyParts)
		}
	}
	for _, e := range p.entities {
		if err := checkStrength(e.PrimaryKey); err != nil {
			return fmt.Errorf("key %s: %w", fingerprint(e), err)
		}
	}
	for _, e := range p.signers {
		for _, sk := range p.pinnedSigningSubkeys(e) {
			if err := checkStrength(sk.PublicKey); err != nil {
				return fmt.Errorf("signing subkey %s: %w", hexFingerprint(sk.PublicKey), err)
			}
		}
	}
	return onceEach(append(slices.Clip(p.entities), p.signers...))
}

// maxKeyParts bounds the subkeys, user ids and self-signatures of a kept
// key: go-crypto verifies them on every Seal and Open (each works on fresh
// copies, without cached results), so a key of 16,500 subkeys in under 4 MiB
// cost 3.5 s of CPU per bundle sealed. A real key renewed every year for
// decades holds a few dozen.
const maxKeyParts = 256

// keyParts counts e's subkeys, user ids and the self-signatures go-crypto
// may verify.
func keyParts(e *openpgp.Entity) int {
	n := len(e.Subkeys) + len(e.Revocations) + len(e.DirectSignatures)
	for _, id := range e.Identities {
		n += 1 + len(id.SelfCertifications) + len(id.Revocations)
	}
	for _, sk := range e.Subkeys {
		n += len(sk.Bindings) + len(sk.Revocations)
	}
	return n
}

// onceEach refuses a key id that occurs twice in ents, as a primary key or
// a subkey: go-crypto would take whichever entity comes first.
func onceEach(ents []*openpgp.Entity) error {
	seen := map[uint64]string{}
	for _, e := range ents {
		for _, pk := range allKeys(e) {
			if other, ok := seen[pk.KeyId]; ok {
				return fmt.Errorf("key %s occurs twice (in the entities of %s and %s): the file must hold each key once (gpg --export merges copies)",
					hexFingerprint(pk), other, fingerprint(e))
			}
			seen[pk.KeyId] = fingerprint(e)
		}
	}
	return nil
}

// allKeys returns e's primary key and subkeys.
func allKeys(e *openpgp.Entity) []*packet.PublicKey {
	keys := []*packet.PublicKey{e.PrimaryKey}
	for _, sk := range e.Subkeys {
		keys = append(keys, sk.PublicKey)
	}
	return keys
}

// noSecretKeys refuses secret key material in a partner's key file: a
// partner sends only its public key, and a secret key sent is a key exposed.
func noSecretKeys(ents []*openpgp.Entity) error {
	for _, e := range ents {
		secret := e.PrivateKey != nil
		for _, sk := range e.Subkeys {
			secret = secret || sk.PrivateKey != nil
		}
		if secret {
			return fmt.Errorf("key %s: holds secret key material; a partner's key file must hold public keys only", fingerprint(e))
		}
	}
	return nil
}

// pinnedSigningSubkeys returns e's subkeys that are pinned and qualify as
// signing subkeys (see signingSubkeyError).
func (p *Peer) pinnedSigningSubkeys(e *openpgp.Entity) []*openpgp.Subkey {
	var out []*openpgp.Subkey
	for i := range e.Subkeys {
		sk := &e.Subkeys[i]
		if p.pinned[hexFingerprint(sk.PublicKey)] && signingSubkeyError(sk) == nil {
			out = append(out, sk)
		}
	}
	return out
}

// signingSubkeyError says why sk does not count as a signing subkey: its
// latest valid binding signature by its primary key must flag it for
// signing and carry a valid back-signature (the embedded primary key
// binding signature, made by sk itself: go-crypto verifies it with the
// binding of any subkey flagged for signing).
func signingSubkeyError(sk *openpgp.Subkey) error {
	sig, err := cloneSubkey(sk).LatestValidBindingSignature(time.Time{}, policyConfig(time.Now()))
	switch {
	case err != nil:
		return fmt.Errorf("is not validly bound to its primary key %s (a binding signature with a back-signature is required): %w",
			hexFingerprint(sk.Primary.PrimaryKey), err)
	case !sig.FlagsValid || !sig.FlagSign:
		return fmt.Errorf("is not flagged for signing by its primary key %s; a pinned subkey counts only as a signing subkey",
			hexFingerprint(sk.Primary.PrimaryKey))
	}
	return nil
}

// cloneSubkey copies sk with unverified signature wrappers, so that a
// check leaves no cached result in the entity.
func cloneSubkey(sk *openpgp.Subkey) *openpgp.Subkey {
	c := *sk
	c.Bindings = cloneSigs(sk.Bindings)
	c.Revocations = cloneSigs(sk.Revocations)
	return &c
}

// checkStrength refuses a pinned key that Open would never accept a
// signature from, nor Seal encrypt to (DSA, ElGamal, RSA under 2048 bits):
// such a pin is a configuration error, found at start rather than at the
// first bundle. Expiry and revocation are not checked here: they come with
// time, and are judged per signature at its creation time.
func checkStrength(pk *packet.PublicKey) error {
	if weakPublicKeyAlgorithms[pk.PubKeyAlgo] {
		return fmt.Errorf("%w: public-key algorithm %d is refused", ErrWeakKey, pk.PubKeyAlgo)
	}
	if pk.PubKeyAlgo == packet.PubKeyAlgoRSA || pk.PubKeyAlgo == packet.PubKeyAlgoRSASignOnly {
		if bits, err := pk.BitLength(); err != nil || bits < policyConfig(time.Now()).MinRSABits {
			return fmt.Errorf("%w: RSA key of %d bits, less than 2048", ErrWeakKey, bits)
		}
	}
	return nil
}

// pinnedSubkey reports whether k is a subkey of one of p's signer
// entities whose fingerprint is pinned.
func (p *Peer) pinnedSubkey(k *openpgp.Key) bool {
	if k.IsPrimary() || !p.pinned[hexFingerprint(k.PublicKey)] {
		return false
	}
	return slices.Contains(p.signers, k.Entity)
}

// Fingerprints returns the primary fingerprints of the peer's pinned keys.
func (p *Peer) Fingerprints() []string {
	fps := make([]string, 0, len(p.entities))
	for _, e := range p.entities {
		fps = append(fps, fingerprint(e))
	}
	return fps
}

// normFingerprint lowercases fp and removes spaces, tabs and colons.
func normFingerprint(fp string) string {
	fp = strings.ToLower(fp)
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == ':' || r == '\t' {
			return -1
		}
		return r
	}, fp)
}

func fingerprint(e *openpgp.Entity) string {
	return hex.EncodeToString(e.PrimaryKey.Fingerprint)
}

// readKeyFile reads every key in path; errors name the file.
func readKeyFile(path string) (openpgp.EntityList, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	defer f.Close()
	ents, err := readKeys(f)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return ents, nil
}

// maxKeyFile bounds what is read of a key file: go-crypto holds every
// packet of it in memory, several times over, and a partner's key file is
// loaded at every start. A real key, even with many certifications, is far
// smaller.
const maxKeyFile = 4 << 20

// ErrKeyFileTooLarge is wrapped when a key file holds more than maxKeyFile
// bytes, or a kept key more than maxKeyParts parts.
var ErrKeyFileTooLarge = errors.New("key file too large")

// readKeys reads keys armoured (one or more armour blocks) or binary, from
// at most maxKeyFile bytes of r.
func readKeys(r io.Reader) (openpgp.EntityList, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxKeyFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("%w: more than %d MiB; export the key alone, without third-party signatures (gpg --export --export-options export-minimal)",
			ErrKeyFileTooLarge, maxKeyFile>>20)
	}
	br := bufio.NewReader(bytes.NewReader(data))
	first, err := br.Peek(1)
	if err != nil {
		return nil, fmt.Errorf("no OpenPGP key found: %w", err)
	}
	if first[0]&0x80 != 0 {
		return openpgp.ReadKeyRing(br)
	}
	var all openpgp.EntityList
	for {
		block, err := armor.Decode(br)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("bad armour: %w", err)
		}
		if block.Type != openpgp.PublicKeyType && block.Type != openpgp.PrivateKeyType {
			return nil, fmt.Errorf("armour block %q is not a key", block.Type)
		}
		ents, err := openpgp.ReadKeyRing(block.Body)
		if err != nil {
			return nil, err
		}
		all = append(all, ents...)
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("no OpenPGP key found")
	}
	return slices.Clip(all), nil
}
