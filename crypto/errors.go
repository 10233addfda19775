package crypto

import (
	"errors"

	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
)

// Sentinel errors. Every refusal from Open (and from reading a Message) wraps
// exactly one of the first five; Code maps them to the receipt codes of SPEC §2.
var (
	// ErrDecrypt: the message is not encrypted to us, is not OpenPGP, is
	// garbage, is not encrypted at all, or ends before its encrypted data.
	ErrDecrypt = errors.New("message cannot be decrypted with our key")
	// ErrIntegrity: no integrity protection (SED without MDC), an MDC or AEAD
	// failure, modified or truncated ciphertext.
	ErrIntegrity = errors.New("message integrity check failed")
	// ErrUnsigned: no signature, a bad signature, a weak hash, a signature
	// from the future, or a key expired or revoked at signing time.
	ErrUnsigned = errors.New("message has no valid signature")
	// ErrUnknownSigner: a valid signature by a key not pinned for the partner.
	ErrUnknownSigner = errors.New("message is signed by a key not pinned for this partner")
	// ErrLimits: the decompressed literal data exceeds the size limit, or
	// compressed data expands more than MaxExpansion times.
	ErrLimits = errors.New("message exceeds the size limit")

	// ErrNotPinned: LoadPeer found no key whose primary fingerprint is pinned.
	ErrNotPinned = errors.New("no key matches the pinned fingerprints")
	// ErrWeakKey: LoadPeer found a pinned key too weak to ever be used.
	ErrWeakKey = errors.New("key too weak")
	// ErrPassphrase: LoadSelf could not decrypt the secret key (missing or
	// wrong passphrase).
	ErrPassphrase = errors.New("secret key passphrase missing or wrong")
)

// Code returns the SPEC receipt code for an error from Open or Message.Read
// ("decrypt", "integrity", "unsigned", "unknown_signer", "limits"), or "" if
// err wraps none of those sentinels (an I/O error of the source, say).
func Code(err error) string {
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return ""
}

var codes = []struct {
	err  error
	code string
}{
	{ErrDecrypt, "decrypt"},
	{ErrIntegrity, "integrity"},
	{ErrUnsigned, "unsigned"},
	{ErrUnknownSigner, "unknown_signer"},
	{ErrLimits, "limits"},
}

// refusal is an Open error: one sentinel plus the library's detail.
type refusal struct {
	kind   error
	detail error
}

func (r *refusal) Error() string {
	if r.detail == nil {
		return "openpgp message refused: " + r.kind.Error()
	}
	return "openpgp message refused: " + r.kind.Error() + ": " + r.detail.Error()
}

func (r *refusal) Unwrap() error { return r.kind }

func refuse(kind, detail error) error { return &refusal{kind: kind, detail: detail} }

// classifyHeader maps an error from reading the message up to its literal
// data (openpgp.ReadMessage) to a refusal. forUs tells whether a session key
// packet named one of our keys: a packet without integrity protection is an
// integrity failure in a message for us, garbage otherwise.
func classifyHeader(err error, forUs bool) error {
	var decErr pgperrors.DecryptWithSessionKeyError
	var sigErr pgperrors.SignatureError
	var unsup pgperrors.UnsupportedError
	switch {
	case errors.As(err, &decErr), errors.As(err, &sigErr):
		// Our key opened the session key, then the decrypted data failed.
		return refuse(ErrIntegrity, err)
	case forUs && errors.As(err, &unsup) && string(unsup) == "message is not integrity protected":
		return refuse(ErrIntegrity, err)
	}
	return refuse(ErrDecrypt, err)
}

// classifyBody maps an error from reading the decrypted stream to a
// refusal: everything that goes wrong inside it is an integrity failure
// (the size limits are the framers' and Message's own refusals).
func classifyBody(err error) error {
	return refuse(ErrIntegrity, err)
}
