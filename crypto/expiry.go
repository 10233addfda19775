package crypto

import (
	"time"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// KeyExpiry says until when one key (a primary key with its subkeys) can
// be used to exchange bundles.
type KeyExpiry struct {
	Fingerprint string     // primary, lowercase hex
	Expires     *time.Time // nil: never (see KeyInfo.UsableUntil)
	Revoked     bool
}

// UsableUntil returns when the key stops being usable for an exchange: the
// earlier of the primary key's expiry (it signs) and the latest expiry of
// its encryption subkeys that are not revoked. nil means never.
func (k KeyInfo) UsableUntil() *time.Time {
	until := k.Expires
	var enc *time.Time
	hasEnc, encNever := false, false
	for _, s := range k.Subkeys {
		if !s.Encrypt || s.Revoked {
			continue
		}
		hasEnc = true
		switch {
		case s.Expires == nil:
			encNever = true
		case enc == nil || s.Expires.After(*enc):
			enc = s.Expires
		}
	}
	if hasEnc && !encNever && enc != nil && (until == nil || enc.Before(*until)) {
		until = enc
	}
	return until
}

// Expiry returns until when our own key is usable.
func (s *Self) Expiry() KeyExpiry { return expiryOf(s.public) }

// Expiries returns until when each of the partner's pinned keys is usable,
// in the order of the key file.
func (p *Peer) Expiries() []KeyExpiry {
	out := make([]KeyExpiry, 0, len(p.entities))
	for _, e := range p.entities {
		out = append(out, expiryOf(e))
	}
	return out
}

// expiryOf describes one entity's usable lifetime (on a copy: Inspect
// verifies self-signatures, which go-crypto caches in the entity).
func expiryOf(e *openpgp.Entity) KeyExpiry {
	now := time.Now()
	info := inspectEntity(cloneEntity(e), now, policyConfig(now))
	return KeyExpiry{Fingerprint: info.Fingerprint, Expires: info.UsableUntil(), Revoked: info.Revoked}
}
