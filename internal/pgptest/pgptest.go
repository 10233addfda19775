// Package pgptest builds hostile OpenPGP key files for tests: keys bound as
// subkeys by someone else's primary key, subkeys without back-signatures,
// copies of a partner's key. It uses go-crypto's packet API directly, as an
// attacker would, and is imported by tests only.
package pgptest

import (
	"bytes"
	"crypto"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// Config is the configuration the builders sign with: Ed25519 keys with
// X25519 encryption subkeys, SHA-256, signatures made a minute ago (so that
// a key made now is valid at once).
func Config() *packet.Config {
	at := time.Now().Add(-time.Minute).Truncate(time.Second)
	return &packet.Config{
		Algorithm: packet.PubKeyAlgoEdDSA, Curve: packet.Curve25519,
		DefaultHash: crypto.SHA256, Time: func() time.Time { return at },
	}
}

// NewEntity makes a key for name ("name <email>" as user id): an Ed25519
// primary key and an X25519 encryption subkey, secret parts included.
func NewEntity(name, email string) (*openpgp.Entity, error) {
	return openpgp.NewEntity(name, "", email, Config())
}

// Flags are the key flags a binding signature gives a subkey.
type Flags struct {
	Sign, Encrypt, Certify bool
}

// Bind adds pk as a subkey of owner, bound by owner's primary secret key
// with flags. When backSig is not nil it also embeds a back-signature made
// by backSig (the subkey's own secret key, or any other key: the builder
// does not check); without it a subkey flagged for signing has none.
func Bind(owner *openpgp.Entity, pk *packet.PublicKey, flags Flags, backSig *packet.PrivateKey) error {
	cfg := Config()
	sub := *pk
	sub.IsSubkey = true
	sig := newSig(owner.PrimaryKey, packet.SigTypeSubkeyBinding, cfg)
	sig.FlagsValid = true
	sig.FlagSign, sig.FlagCertify = flags.Sign, flags.Certify
	sig.FlagEncryptCommunications, sig.FlagEncryptStorage = flags.Encrypt, flags.Encrypt
	if backSig != nil {
		emb := newSig(&backSig.PublicKey, packet.SigTypePrimaryKeyBinding, cfg)
		if err := emb.CrossSignKey(&sub, owner.PrimaryKey, backSig, cfg); err != nil {
			return err
		}
		sig.EmbeddedSignature = emb
	}
	if err := sig.SignKey(&sub, owner.PrivateKey, cfg); err != nil {
		return err
	}
	owner.Subkeys = append(owner.Subkeys, openpgp.Subkey{PublicKey: &sub, Primary: owner,
		Bindings: []*packet.VerifiableSignature{packet.NewVerifiableSig(sig)}})
	return nil
}

// ResignBinding replaces the binding signature of owner's subkey i with one
// made by signer's primary secret key (someone else's key, say), keeping
// its flags and dropping any back-signature when dropBackSig.
func ResignBinding(owner *openpgp.Entity, i int, signer *openpgp.Entity, dropBackSig bool) error {
	cfg := Config()
	sk := &owner.Subkeys[i]
	old := sk.Bindings[len(sk.Bindings)-1].Packet
	sig := newSig(signer.PrimaryKey, packet.SigTypeSubkeyBinding, cfg)
	sig.FlagsValid, sig.FlagSign, sig.FlagCertify = old.FlagsValid, old.FlagSign, old.FlagCertify
	sig.FlagEncryptCommunications, sig.FlagEncryptStorage = old.FlagEncryptCommunications, old.FlagEncryptStorage
	if !dropBackSig {
		sig.EmbeddedSignature = old.EmbeddedSignature
	}
	if err := sig.SignKey(sk.PublicKey, signer.PrivateKey, cfg); err != nil {
		return err
	}
	sk.Bindings = []*packet.VerifiableSignature{packet.NewVerifiableSig(sig)}
	return nil
}

func newSig(issuer *packet.PublicKey, typ packet.SignatureType, cfg *packet.Config) *packet.Signature {
	return &packet.Signature{
		Version: issuer.Version, SigType: typ, PubKeyAlgo: issuer.PubKeyAlgo, Hash: crypto.SHA256,
		CreationTime: cfg.Now(), IssuerKeyId: &issuer.KeyId, IssuerFingerprint: issuer.Fingerprint,
	}
}

// Armor returns the public keys of ents in one armoured block.
func Armor(ents ...*openpgp.Entity) ([]byte, error) {
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		if err := e.Serialize(w); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// ReadArmored reads the keys of an armoured key file.
func ReadArmored(data []byte) (openpgp.EntityList, error) {
	return openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
}

// Hijack builds the attack of issue 10: an attacker's entity (user id
// copied from the victim's first key) with its own encryption subkey that
// also carries the victim's primary public key as a subkey, bound by the
// attacker with flags (the attacker cannot make its back-signature). It
// returns the attacker's public key, armoured, and its primary fingerprint.
func Hijack(victimPublic []byte, flags Flags) ([]byte, *openpgp.Entity, error) {
	victims, err := ReadArmored(victimPublic)
	if err != nil {
		return nil, nil, err
	}
	v := victims[0]
	name, email := "attacker", "attacker@example.org"
	for _, id := range v.Identities {
		name, email = id.UserId.Name, id.UserId.Email
	}
	x, err := NewEntity(name, email)
	if err != nil {
		return nil, nil, err
	}
	if err := Bind(x, v.PrimaryKey, flags, nil); err != nil {
		return nil, nil, err
	}
	pub, err := Armor(x)
	return pub, x, err
}
