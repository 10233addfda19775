// Package sealed is a bundle sealed for one partner: the bundle's tar
// (package bundle) inside an OpenPGP message (package crypto) signed by us
// and encrypted to them, with the partner's OpenPGP choices and limits from
// the configuration. The engine's push and pull use it for the drop, the
// offline bundle tools (package bundlefile) for a file carried by other
// means; both map a refusal to its receipt code with RefusalCode.
package sealed

import (
	"errors"
	"fmt"
	"io"

	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/crypto"
	"github.com/sealpost/sealpost/exchange/bundle"
)

// Pair is us and one partner: our secret key, the partner's public keys,
// the partner's configuration (its id, OpenPGP choices and limits) and our
// own id.
type Pair struct {
	Self    *crypto.Self
	Peer    *crypto.Peer
	Partner *config.Partner
	SelfID  string // our party id, the recipient a bundle from the partner must name
}

// ErrSealer is wrapped by an error of Seal that comes from setting up the
// OpenPGP sealer for the partner (no usable key, a profile the key cannot
// take), before anything is written.
var ErrSealer = errors.New("the OpenPGP sealer cannot be set up")

// sealerError is a failure to set up the sealer: its message is the
// cause's, and it matches ErrSealer.
type sealerError struct{ err error }

func (e *sealerError) Error() string        { return e.err.Error() }
func (e *sealerError) Unwrap() error        { return e.err }
func (e *sealerError) Is(target error) bool { return target == ErrSealer }

// Seal writes the bundle's tar (manifest last) of m and srcs through an
// OpenPGP sealer for the partner into w, and the plaintext also into pt
// when set. A failure to set up the sealer wraps ErrSealer; a bundle error
// wraps bundle's sentinels (ErrUnsafeSource, ErrManifest); any other error
// is w's or a source's.
func (p Pair) Seal(w io.Writer, m *bundle.Manifest, srcs []bundle.Source, pt io.Writer) error {
	sealer, err := crypto.Seal(w, p.Self, p.Peer, crypto.SealOptions{
		Profile: crypto.Profile(p.Partner.PGP.Profile), Compress: p.Partner.PGP.Compression == "zlib", Armor: p.Partner.PGP.Armor})
	if err != nil {
		return &sealerError{fmt.Errorf("seal for %s: %w", p.Partner.ID, err)}
	}
	var tw io.Writer = sealer
	if pt != nil {
		tw = io.MultiWriter(sealer, pt)
	}
	if err := bundle.Write(tw, m, srcs); err != nil {
		return err
	}
	return sealer.Close()
}

// Open decrypts and verifies a bundle from the partner read from src and
// unpacks it into dir, within the partner's limits, expecting the partner
// as sender and us as recipient. Nothing in dir counts until Open returns
// without error; RefusalCode tells a refusal from a local failure.
func (p Pair) Open(src io.Reader, dir string) (*bundle.Manifest, error) {
	lim := p.Partner.Limits
	msg, err := crypto.Open(src, p.Self, p.Peer, crypto.OpenOptions{MaxBytes: lim.MaxBytes})
	if err != nil {
		return nil, err
	}
	return bundle.Read(msg, dir, bundle.Limits{MaxBytes: lim.MaxBytes, MaxFiles: lim.MaxFiles},
		bundle.Expect{Sender: p.Partner.ID, Recipient: p.SelfID})
}

// RefusalCode maps a verification error to its receipt code (SPEC §2), or
// "" when the error is not the partner's fault (a local I/O error).
func RefusalCode(err error) string {
	if err == nil {
		return ""
	}
	if c := crypto.Code(err); c != "" {
		return c
	}
	switch {
	case errors.Is(err, bundle.ErrLimits):
		return "limits"
	case errors.Is(err, bundle.ErrManifest):
		return "manifest"
	case errors.Is(err, bundle.ErrArchive):
		return "archive"
	}
	return ""
}
