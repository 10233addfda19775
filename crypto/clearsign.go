package crypto

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// ClearSign writes text as an armoured cleartext-signed message by self
// (SHA-256), as `gpg --verify FILE` checks it (and as gpg --clearsign
// writes it: text's final newline is not part of the signed text). text
// should be UTF-8 lines; trailing spaces on a line are not signed
// (RFC 4880 §7.1).
func ClearSign(w io.Writer, self *Self, text []byte) error {
	s := self.fresh()
	cfg := sealConfig(time.Now())
	key, ok := s.entity.SigningKey(cfg.Now(), cfg)
	if !ok {
		return fmt.Errorf("clearsign: key %s has no usable signing key", s.Fingerprint())
	}
	pt, err := clearsign.Encode(w, key.PrivateKey, cfg)
	if err != nil {
		return fmt.Errorf("clearsign by %s: %w", s.Fingerprint(), err)
	}
	if _, err := pt.Write(bytes.TrimSuffix(text, []byte("\n"))); err != nil {
		return fmt.Errorf("clearsign by %s: %w", s.Fingerprint(), err)
	}
	if err := pt.Close(); err != nil {
		return fmt.Errorf("clearsign by %s: %w", s.Fingerprint(), err)
	}
	return nil
}

// ErrNotClearSigned is returned by VerifyClearSigned for data that holds no
// cleartext-signed message.
var ErrNotClearSigned = errors.New("not an OpenPGP cleartext-signed message")

// VerifyClearSigned checks a cleartext-signed message made by one of
// signer's pinned keys and returns the signed text (line endings as
// written, without a final newline) and the pinned fingerprint that
// vouches for the signer (see Message.Signer). Text before or after the signed block is ignored and never
// returned. A bad signature wraps ErrUnsigned, one by a key not pinned
// ErrUnknownSigner.
func VerifyClearSigned(data []byte, signer *Peer) ([]byte, string, error) {
	b, _ := clearsign.Decode(data)
	if b == nil {
		return nil, "", ErrNotClearSigned
	}
	p := signer.fresh()
	cfg := policyConfig(time.Now().Add(MaxClockSkew))
	md, err := openpgp.VerifyDetachedSignatureReader(peerRing{p}, bytes.NewReader(b.Bytes), b.ArmoredSignature.Body, cfg)
	if err == nil {
		if _, err = io.Copy(io.Discard, md.UnverifiedBody); err == nil {
			err = md.SignatureError
		}
	}
	switch {
	case errors.Is(err, pgperrors.ErrUnknownIssuer):
		return nil, "", fmt.Errorf("%w: the signer is not a pinned key", ErrUnknownSigner)
	case err != nil:
		return nil, "", fmt.Errorf("%w: %v", ErrUnsigned, err)
	case md.SignedBy == nil:
		return nil, "", fmt.Errorf("%w: the signer is not a pinned key", ErrUnknownSigner)
	}
	fp, ok := p.signerPinned(md.SignedBy)
	if !ok {
		return nil, "", fmt.Errorf("%w: the signer %s is not a pinned key", ErrUnknownSigner, fp)
	}
	return b.Plaintext, fp, nil
}
