package crypto

import (
	"fmt"
	"slices"
	"strings"
	"time"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// KeyFileProblem is one thing in a partner's key file that sealpost would
// use, or that someone reading the file would take for the partner's key,
// although no pin makes it trusted.
type KeyFileProblem struct {
	Fingerprint string // the key it is about, lowercase hex
	Reason      string // why it is a problem, one clause
}

// String returns "key FINGERPRINT REASON".
func (p KeyFileProblem) String() string { return "key " + p.Fingerprint + " " + p.Reason }

// CheckKeyFile lists what in the key file at path is not pinned but would
// be used, for `sealpost check` and `sealpost keys inspect` to fail on
// (LoadPeer itself drops it all and uses only what is pinned):
//   - a key that occurs in more than one entity (as a primary key or a
//     subkey): the file is ambiguous, and a copy of a key bound by someone
//     else's primary key is how an attacker passes its own key off as the
//     partner's;
//   - an entity whose primary key is not pinned and that could encrypt or
//     sign now (go-crypto would pick an encryption or signing key in it),
//     unless it is kept only for a pinned signing subkey;
//   - a pinned fingerprint that is a subkey but not a signing subkey
//     validly bound with a back-signature: the pin counts for nothing.
//
// With no pins (a file not yet pinned) only the first kind is reported.
// Revoked and expired keys are not problems: nothing would use them.
func CheckKeyFile(path string, pinned []string) ([]KeyFileProblem, error) {
	ents, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	probs := duplicateKeys(ents)
	if len(pinned) == 0 {
		return probs, nil
	}
	p := &Peer{pinned: map[string]bool{}}
	for _, fp := range pinned {
		p.pinned[normFingerprint(fp)] = true
	}
	for _, e := range ents {
		probs = append(probs, p.unpinnedUse(e)...)
	}
	return probs, nil
}

// duplicateKeys reports each key that occurs in more than one place.
func duplicateKeys(ents []*openpgp.Entity) []KeyFileProblem {
	where := map[string][]string{}
	var order []string
	for _, e := range ents {
		for i, pk := range allKeys(e) {
			fp := hexFingerprint(pk)
			role := "primary key"
			if i > 0 {
				role = "subkey of " + fingerprint(e)
			}
			if len(where[fp]) == 0 {
				order = append(order, fp)
			}
			where[fp] = append(where[fp], role)
		}
	}
	var probs []KeyFileProblem
	for _, fp := range order {
		if len(where[fp]) > 1 {
			probs = append(probs, KeyFileProblem{Fingerprint: fp,
				Reason: fmt.Sprintf("occurs %d times (as %s): a key file must hold each key once, and a key bound as a subkey by someone else's primary key is an attempt to pass that key off as this one",
					len(where[fp]), strings.Join(where[fp], ", "))})
		}
	}
	return probs
}

// unpinnedUse reports what in e would be used although not pinned, and
// pins on e's subkeys that count for nothing.
func (p *Peer) unpinnedUse(e *openpgp.Entity) []KeyFileProblem {
	if n := keyParts(e); n > maxKeyParts { // checking more would cost seconds, as in LoadPeer
		return []KeyFileProblem{{Fingerprint: fingerprint(e),
			Reason: fmt.Sprintf("holds %d subkeys, user ids and signatures, more than %d; remove it from the file, or export it with gpg --export-options export-clean", n, maxKeyParts)}}
	}
	var probs []KeyFileProblem
	for i := range e.Subkeys {
		sk := &e.Subkeys[i]
		if !p.pinned[hexFingerprint(sk.PublicKey)] {
			continue
		}
		if err := signingSubkeyError(sk); err != nil {
			probs = append(probs, KeyFileProblem{Fingerprint: hexFingerprint(sk.PublicKey),
				Reason: "is pinned but is a subkey that " + err.Error() + "; pin the partner's primary key instead"})
		}
	}
	if p.pinned[fingerprint(e)] || len(p.pinnedSigningSubkeys(e)) > 0 {
		return probs
	}
	if uses := usableFor(cloneEntity(e)); len(uses) > 0 {
		probs = append(probs, KeyFileProblem{Fingerprint: fingerprint(e),
			Reason: fmt.Sprintf("is not pinned but could %s (user ids %s); remove it from the file, or pin it once its owner has confirmed its fingerprint",
				strings.Join(uses, " and "), userIDs(e))})
	}
	return probs
}

// usableFor lists what go-crypto would use e for now: "encrypt", "sign".
func usableFor(e *openpgp.Entity) []string {
	cfg := policyConfig(time.Now())
	var uses []string
	if _, ok := e.EncryptionKey(cfg.Now(), cfg); ok {
		uses = append(uses, "encrypt")
	}
	if _, ok := e.SigningKey(cfg.Now(), cfg); ok {
		uses = append(uses, "sign")
	}
	return uses
}

// maxUserIDs and maxUserIDLen bound the user ids a problem quotes: they
// are the key file author's free text.
const (
	maxUserIDs   = 3
	maxUserIDLen = 80
)

// userIDs lists e's user ids, quoted, sorted and bounded, or "none".
func userIDs(e *openpgp.Entity) string {
	var ids []string
	for name := range e.Identities {
		if r := []rune(name); len(r) > maxUserIDLen {
			name = string(r[:maxUserIDLen]) + "..."
		}
		ids = append(ids, fmt.Sprintf("%+q", name))
	}
	if len(ids) == 0 {
		return "none"
	}
	slices.Sort(ids)
	if len(ids) > maxUserIDs {
		ids = append(ids[:maxUserIDs], fmt.Sprintf("and %d more", len(ids)-maxUserIDs))
	}
	return strings.Join(ids, ", ")
}
