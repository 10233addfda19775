package crypto

import (
	"bytes"
	"crypto"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// KeyAlgo is the algorithm GenerateKey uses.
type KeyAlgo string

// Key algorithms.
const (
	// KeyEd25519 is an Ed25519 primary key with an X25519 (cv25519)
	// encryption subkey, v4 packets as GnuPG 2.2 reads them. The default.
	KeyEd25519 KeyAlgo = "ed25519"
	// KeyRSA4096 is an RSA-4096 primary key with an RSA-4096 encryption subkey.
	KeyRSA4096 KeyAlgo = "rsa4096"
)

// GenerateKey makes a new v4 key for party id with user id "sealpost <id>":
// a primary key for signing and certifying, and an encryption subkey. It
// does not advertise SEIPDv2, so partners on GnuPG 2.2 can read what is
// sealed to it. A non-empty passphrase protects the secret key (iterated and
// salted S2K, as GnuPG reads). It returns the armoured secret and public
// keys and the primary fingerprint (lowercase hex).
func GenerateKey(id string, algo KeyAlgo, passphrase []byte) (secret, public []byte, fingerprint string, err error) {
	return GenerateKeyWith(id, KeyOptions{Algo: algo, Passphrase: passphrase})
}

// KeyOptions are the choices of GenerateKeyWith.
type KeyOptions struct {
	Algo       KeyAlgo       // "" means KeyEd25519
	Passphrase []byte        // protects the secret key when not empty
	Lifetime   time.Duration // the key (and its subkey) expire this long after creation; 0 = never
	Created    time.Time     // creation time; zero means now (other times are for tests)
}

// GenerateKeyWith is GenerateKey with every choice: see KeyOptions. A
// lifetime is rounded down to whole seconds and must fit OpenPGP's 32-bit
// field (about 136 years).
func GenerateKeyWith(id string, opt KeyOptions) (secret, public []byte, fingerprint string, err error) {
	algo, passphrase := opt.Algo, opt.Passphrase
	if opt.Lifetime < 0 || opt.Lifetime/time.Second > math.MaxUint32 {
		return nil, nil, "", fmt.Errorf("generate key: lifetime %s is out of range", opt.Lifetime)
	}
	cfg := &packet.Config{
		DefaultHash:            crypto.SHA256,
		DefaultCipher:          sealCipher,
		DefaultCompressionAlgo: packet.CompressionZLIB,
		KeyLifetimeSecs:        uint32(opt.Lifetime / time.Second),
	}
	if !opt.Created.IsZero() {
		created := opt.Created
		cfg.Time = func() time.Time { return created }
	}
	switch algo {
	case KeyEd25519, "":
		cfg.Algorithm, cfg.Curve = packet.PubKeyAlgoEdDSA, packet.Curve25519
	case KeyRSA4096:
		cfg.Algorithm, cfg.RSABits = packet.PubKeyAlgoRSA, 4096
	default:
		return nil, nil, "", fmt.Errorf("generate key: unknown algorithm %q (want ed25519 or rsa4096)", algo)
	}
	e, err := openpgp.NewEntity("sealpost", "", id, cfg)
	if err != nil {
		return nil, nil, "", fmt.Errorf("generate key for %q: %w", id, err)
	}
	public, err = armored(openpgp.PublicKeyType, e.Serialize)
	if err != nil {
		return nil, nil, "", fmt.Errorf("generate key for %q: %w", id, err)
	}
	if len(passphrase) > 0 {
		if err := e.EncryptPrivateKeys(passphrase, cfg); err != nil {
			return nil, nil, "", fmt.Errorf("generate key for %q: protect secret key: %w", id, err)
		}
	}
	secret, err = armored(openpgp.PrivateKeyType, func(w io.Writer) error {
		return e.SerializePrivateWithoutSigning(w, cfg)
	})
	if err != nil {
		return nil, nil, "", fmt.Errorf("generate key for %q: %w", id, err)
	}
	return secret, public, hexFingerprint(e.PrimaryKey), nil
}

// armored runs write into an armour block of type typ.
func armored(typ string, write func(io.Writer) error) ([]byte, error) {
	var buf bytes.Buffer
	aw, err := armor.Encode(&buf, typ, nil)
	if err != nil {
		return nil, err
	}
	if err := write(aw); err != nil {
		return nil, err
	}
	if err := aw.Close(); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// KeyInfo describes one key (entity) for `sealpost keys inspect`.
type KeyInfo struct {
	Fingerprint string     // primary, lowercase hex
	Algorithm   string     // "ed25519", "rsa", "cv25519", "ecdsa-p256"...
	Bits        int        // key size in bits
	UserIDs     []string   // sorted
	Created     time.Time  // UTC
	Expires     *time.Time // nil: never
	Revoked     bool
	Subkeys     []SubkeyInfo
	Secret      bool // the input held the secret key
	SEIPDv2     bool // advertises SEIPDv2 (RFC 9580 AEAD) support
}

// SubkeyInfo describes one subkey.
type SubkeyInfo struct {
	Fingerprint string
	Algorithm   string
	Bits        int
	Created     time.Time
	Expires     *time.Time
	Revoked     bool
	Sign        bool // flagged for signing
	Encrypt     bool // flagged for encryption
}

// Inspect describes every key in r (armoured or binary, public or secret).
func Inspect(r io.Reader) ([]KeyInfo, error) {
	ents, err := readKeys(r)
	if err != nil {
		return nil, fmt.Errorf("inspect keys: %w", err)
	}
	now := time.Now()
	cfg := policyConfig(now)
	infos := make([]KeyInfo, 0, len(ents))
	for _, e := range ents {
		infos = append(infos, inspectEntity(e, now, cfg))
	}
	return infos, nil
}

func inspectEntity(e *openpgp.Entity, now time.Time, cfg *packet.Config) KeyInfo {
	algo, bits := describeKey(e.PrimaryKey)
	info := KeyInfo{
		Fingerprint: hexFingerprint(e.PrimaryKey),
		Algorithm:   algo,
		Bits:        bits,
		Created:     e.PrimaryKey.CreationTime.UTC(),
		Revoked:     e.Revoked(now),
		Secret:      e.PrivateKey != nil,
	}
	for name := range e.Identities {
		info.UserIDs = append(info.UserIDs, name)
	}
	slices.Sort(info.UserIDs)
	if sig, err := e.PrimarySelfSignature(time.Time{}, cfg); err == nil {
		info.Expires = expiry(e.PrimaryKey, sig)
		info.SEIPDv2 = sig.SEIPDv2
	}
	for i := range e.Subkeys {
		info.Subkeys = append(info.Subkeys, inspectSubkey(&e.Subkeys[i], now))
	}
	return info
}

func inspectSubkey(sk *openpgp.Subkey, now time.Time) SubkeyInfo {
	algo, bits := describeKey(sk.PublicKey)
	info := SubkeyInfo{
		Fingerprint: hexFingerprint(sk.PublicKey),
		Algorithm:   algo,
		Bits:        bits,
		Created:     sk.PublicKey.CreationTime.UTC(),
	}
	if sig, err := sk.LatestValidBindingSignature(time.Time{}, nil); err == nil {
		info.Expires = expiry(sk.PublicKey, sig)
		info.Revoked = sk.Revoked(sig, now)
		info.Sign = sig.FlagsValid && sig.FlagSign
		info.Encrypt = sig.FlagsValid && (sig.FlagEncryptCommunications || sig.FlagEncryptStorage)
	}
	return info
}

// expiry returns when the key of pk expires per its self-signature sig.
func expiry(pk *packet.PublicKey, sig *packet.Signature) *time.Time {
	if sig.KeyLifetimeSecs == nil || *sig.KeyLifetimeSecs == 0 {
		return nil
	}
	t := pk.CreationTime.Add(time.Duration(*sig.KeyLifetimeSecs) * time.Second).UTC()
	return &t
}

// describeKey names pk's algorithm (with its curve) and size in bits.
func describeKey(pk *packet.PublicKey) (string, int) {
	bits, _ := pk.BitLength()
	switch pk.PubKeyAlgo {
	case packet.PubKeyAlgoRSA, packet.PubKeyAlgoRSAEncryptOnly, packet.PubKeyAlgoRSASignOnly:
		return "rsa", int(bits)
	case packet.PubKeyAlgoEdDSA, packet.PubKeyAlgoEd25519:
		return "ed25519", 256
	case packet.PubKeyAlgoX25519:
		return "x25519", 256
	case packet.PubKeyAlgoEd448:
		return "ed448", 456
	case packet.PubKeyAlgoX448:
		return "x448", 448
	}
	curve, err := pk.Curve()
	switch {
	case err != nil:
		return fmt.Sprintf("algo%d", pk.PubKeyAlgo), int(bits)
	case curve == packet.Curve25519:
		return "cv25519", 256
	case pk.PubKeyAlgo == packet.PubKeyAlgoECDSA:
		return "ecdsa-" + strings.ToLower(string(curve)), int(bits)
	}
	return "ecdh-" + strings.ToLower(string(curve)), int(bits)
}

func hexFingerprint(pk *packet.PublicKey) string {
	return fmt.Sprintf("%x", pk.Fingerprint)
}

// SignDetached writes an armoured detached signature (binary, SHA-256) of
// data by self, as `gpg --verify SIG DATA` checks it.
func SignDetached(w io.Writer, self *Self, data io.Reader) error {
	cfg := sealConfig(time.Now())
	if err := openpgp.ArmoredDetachSign(w, []*openpgp.Entity{self.fresh().entity}, data, &openpgp.SignParams{Config: cfg}); err != nil {
		return fmt.Errorf("detached signature by %s: %w", self.Fingerprint(), err)
	}
	return nil
}
