package exchange

import (
	"fmt"
	"time"

	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/crypto"
)

// Keys are our own key and every partner's pinned keys, loaded once and
// read through Self and Peer.
type Keys struct {
	self  *crypto.Self
	peers map[string]*crypto.Peer
}

// LoadKeys loads our key (with its passphrase) and each partner's keys,
// refusing a partner key file that holds none of its pinned fingerprints.
// Errors are *ConfigError naming the key and file.
func LoadKeys(cfg *config.Config) (*Keys, error) {
	k := &Keys{peers: map[string]*crypto.Peer{}}
	pass, err := cfg.Identity.Passphrase()
	if err != nil {
		return nil, &ConfigError{err}
	}
	if k.self, err = crypto.LoadSelf(cfg.Identity.PrivateKey, pass); err != nil {
		return nil, &ConfigError{fmt.Errorf("identity.private_key: %w", err)}
	}
	for _, id := range cfg.PartnerIDs() {
		p := cfg.Partners[id]
		if k.peers[id], err = crypto.LoadPeer(p.PublicKey, p.Fingerprints); err != nil {
			return nil, &ConfigError{fmt.Errorf("partners.%s.public_key: %w", id, err)}
		}
	}
	return k, nil
}

// Self is our own key.
func (k *Keys) Self() *crypto.Self { return k.self }

// Peer is the partner's pinned keys (nil for an id not configured).
func (k *Keys) Peer(partner string) *crypto.Peer { return k.peers[partner] }

// KeyWarnBefore is how long before a key's expiry `status`, `check`, the
// logs and the metrics start to warn about it.
const KeyWarnBefore = 30 * 24 * time.Hour

// KeyState is one key in use with a partner: our own or one of the
// partner's pinned keys, and until when it can be used.
type KeyState struct {
	Owner       string     `json:"owner"` // our id or the partner's
	Fingerprint string     `json:"fingerprint"`
	Expires     *time.Time `json:"expires,omitempty"` // absent: never
	Revoked     bool       `json:"revoked,omitempty"`
	// ExpiresSoon is set when the key expires within KeyWarnBefore, has
	// expired or is revoked.
	ExpiresSoon bool `json:"expires_soon"`
}

// keyStates lists our key and the partner's pinned keys as of now.
func (k *Keys) keyStates(self, partner string, now time.Time) []KeyState {
	var out []KeyState
	add := func(owner string, x crypto.KeyExpiry) {
		s := KeyState{Owner: owner, Fingerprint: x.Fingerprint, Expires: x.Expires, Revoked: x.Revoked}
		s.ExpiresSoon = x.Revoked || x.Expires != nil && x.Expires.Sub(now) < KeyWarnBefore
		out = append(out, s)
	}
	if k.self != nil {
		add(self, k.self.Expiry())
	}
	if p := k.peers[partner]; p != nil {
		for _, x := range p.Expiries() {
			add(partner, x)
		}
	}
	return out
}

// KeyStates returns our key (first) and every partner's pinned keys, each
// once, as of now.
func (e *Engine) KeyStates() []KeyState {
	now := e.now()
	var out []KeyState
	for i, id := range e.cfg.PartnerIDs() {
		ks := e.keys.keyStates(e.cfg.Identity.ID, id, now)
		if i > 0 && len(ks) > 0 && e.keys.self != nil {
			ks = ks[1:] // our own key is listed once
		}
		out = append(out, ks...)
	}
	return out
}

// WarnKeys logs a warning for each key that expires within KeyWarnBefore
// (or has expired, or is revoked): at the start of a run and of the daemon.
func (e *Engine) WarnKeys() {
	now := e.now()
	for _, k := range e.KeyStates() {
		if !k.ExpiresSoon {
			continue
		}
		args := []any{"owner", k.Owner, "fingerprint", k.Fingerprint}
		switch {
		case k.Revoked:
			e.logger.Warn("key is revoked; replace it", args...)
		case k.Expires.Before(now):
			e.logger.Warn("key has expired; replace it", append(args, "expired", k.Expires.UTC().Format(time.RFC3339))...)
		default:
			e.logger.Warn("key expires soon; rotate it", append(args, "expires", k.Expires.UTC().Format(time.RFC3339),
				"days_left", int(k.Expires.Sub(now).Hours()/24))...)
		}
	}
}
