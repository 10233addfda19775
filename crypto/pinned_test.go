package crypto

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
	"github.com/sealpost/sealpost/internal/pgptest"
)

// recipients returns the key ids of msg's public-key encrypted session key
// packets, in order.
func recipients(t testing.TB, msg []byte) []uint64 {
	t.Helper()
	r := packet.NewReader(bytes.NewReader(msg))
	var ids []uint64
	for {
		p, err := r.Next()
		if err != nil {
			t.Fatalf("reading the sealed message: %v", err)
		}
		ek, ok := p.(*packet.EncryptedKey)
		if !ok {
			return ids
		}
		ids = append(ids, ek.KeyId)
	}
}

// encryptionKeyID is the key id go-crypto encrypts to for e now.
func encryptionKeyID(t testing.TB, e *openpgp.Entity) uint64 {
	t.Helper()
	cfg := sealConfig(time.Now())
	k, ok := cloneEntity(e).EncryptionKey(cfg.Now(), cfg)
	if !ok {
		t.Fatalf("key %s has no encryption key", fingerprint(e))
	}
	return k.PublicKey.KeyId
}

// wantRecipients seals a message from us to peer and fails unless its
// session key is encrypted to exactly the keys of want (in any order).
func wantRecipients(t testing.TB, us *party, peer *Peer, want ...*openpgp.Entity) {
	t.Helper()
	msg := sealBytes(t, us.self, peer, SealOptions{}, []byte("for the pinned partner only"))
	got := recipients(t, msg)
	var ids []uint64
	for _, e := range want {
		ids = append(ids, encryptionKeyID(t, e))
	}
	slices.Sort(got)
	slices.Sort(ids)
	if !slices.Equal(got, ids) {
		t.Fatalf("sealed to key ids %016x, want only %016x", got, ids)
	}
}

// wantProblems fails unless CheckKeyFile reports problems with exactly the
// fingerprints of want, those of each naming it and one holding its text.
func wantProblems(t testing.TB, path string, pins []string, want map[string]string) {
	t.Helper()
	probs, err := CheckKeyFile(path, pins)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range probs {
		if !strings.Contains(p.String(), p.Fingerprint) {
			t.Fatalf("problem %q does not name its key", p)
		}
		got[p.Fingerprint] += p.String() + "\n"
	}
	if len(got) != len(want) {
		t.Fatalf("problems %v, want problems with exactly %v", probs, want)
	}
	for fp, text := range want {
		if !strings.Contains(got[fp], text) {
			t.Fatalf("problems with key %s are %q, want one with %q (all: %v)", fp, got[fp], text, probs)
		}
	}
	for _, p := range probs {
		t.Logf("problem: %s", p)
	}
}

// publicEntity reads the single key of a public key file.
func publicEntity(t testing.TB, path string) *openpgp.Entity {
	t.Helper()
	ents, err := readKeyFile(path)
	if err != nil || len(ents) != 1 {
		t.Fatalf("%s: %d keys, %v", path, len(ents), err)
	}
	return ents[0]
}

// armoredFile writes ents' public keys to one file in dir.
func armoredFile(t testing.TB, dir, name string, ents ...*openpgp.Entity) string {
	t.Helper()
	data, err := pgptest.Armor(ents...)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	writeFile(t, path, data)
	return path
}

// The attack of issue 10 item 1: beside the partner's genuine key, the file
// holds an attacker's entity that carries the partner's primary key as a
// subkey (bound by the attacker) and the attacker's own encryption subkey.
// Only the partner's key and ours may receive the session key; the
// attacker's key never verifies; CheckKeyFile names both the hijacked key
// and the attacker's.
func TestPinnedMeansPrimaryHijackedPrimary(t *testing.T) {
	t.Parallel()
	us := cachedParty(t, "us-ed25519", KeyEd25519)
	them := cachedParty(t, "them-ed25519", KeyEd25519)
	genuine := publicEntity(t, them.publicPath)
	flags := map[string]pgptest.Flags{
		"no flags":             {},
		"sign, no back-sig":    {Sign: true},
		"certify":              {Certify: true},
		"sign+certify+encrypt": {Sign: true, Certify: true, Encrypt: true},
	}
	for name, f := range flags {
		for _, attackerFirst := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/attacker first %v", name, attackerFirst), func(t *testing.T) {
				pub, x, err := pgptest.Hijack(readFile(t, them.publicPath), f)
				if err != nil {
					t.Fatal(err)
				}
				data := append(readFile(t, them.publicPath), pub...)
				if attackerFirst {
					data = append(pub, readFile(t, them.publicPath)...)
				}
				path := filepath.Join(t.TempDir(), "them.public.asc")
				writeFile(t, path, data)
				peer, err := LoadPeer(path, []string{them.fp})
				if err != nil {
					t.Fatal(err)
				}
				wantRecipients(t, us, peer, genuine, us.self.public)
				if fps := peer.Fingerprints(); !slices.Equal(fps, []string{them.fp}) {
					t.Fatalf("fingerprints %v, want only %s", fps, them.fp)
				}

				attacker, err := newSelf(x)
				if err != nil {
					t.Fatal(err)
				}
				msg := sealBytes(t, attacker, us.peer(t), SealOptions{}, []byte("spoof"))
				_, _, err = openBytes(msg, us.self, peer, OpenOptions{})
				wantRefusal(t, err, ErrUnknownSigner)
				msg = sealBytes(t, them.self, us.peer(t), SealOptions{}, []byte("genuine"))
				if _, m, err := openBytes(msg, us.self, peer, OpenOptions{}); err != nil || m.Signer() != them.fp {
					t.Fatalf("genuine message: %v", err)
				}

				wantProblems(t, path, []string{them.fp}, map[string]string{
					them.fp:        "occurs 2 times",
					fingerprint(x): "is not pinned but could encrypt and sign",
				})
				wantProblems(t, path, nil, map[string]string{them.fp: "occurs 2 times"})
			})
		}
	}
}

// An attacker's entity of its own that copies the partner's user id is
// never encrypted to, and CheckKeyFile names it; an expired or revoked
// unpinned key is no problem (nothing would use it).
func TestPinnedMeansPrimaryExtraEntities(t *testing.T) {
	t.Parallel()
	us := cachedParty(t, "us-ed25519", KeyEd25519)
	them := cachedParty(t, "them-ed25519", KeyEd25519)
	x, err := pgptest.NewEntity("sealpost", them.id)
	if err != nil {
		t.Fatal(err)
	}
	revoked := backdatedParty(t, "extra-revoked", func(e *openpgp.Entity, cfg *packet.Config) {
		if err := e.Revoke(packet.KeyRetired, "retired", cfg); err != nil {
			t.Fatal(err)
		}
	})
	_, expired, _, err := GenerateKeyWith("extra-expired", KeyOptions{Lifetime: time.Hour, Created: time.Now().Add(-2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	xPath := armoredFile(t, dir, "x.asc", x)
	path := filepath.Join(dir, "them.public.asc")
	writeFile(t, path, slices.Concat(readFile(t, xPath), readFile(t, them.publicPath), readFile(t, revoked.publicPath), expired))
	peer, err := LoadPeer(path, []string{them.fp})
	if err != nil {
		t.Fatal(err)
	}
	wantRecipients(t, us, peer, publicEntity(t, them.publicPath), us.self.public)
	wantProblems(t, path, []string{them.fp}, map[string]string{
		fingerprint(x): `could encrypt and sign (user ids "sealpost <` + them.id + `>")`,
	})
	wantProblems(t, path, nil, nil)
}

// A pinned subkey counts only as a signing subkey with a valid
// back-signature: a pinned encryption subkey selects nothing, and a pinned
// signing subkey never makes its entity a recipient.
func TestPinnedSubkeyOnlySigns(t *testing.T) {
	t.Parallel()
	us := cachedParty(t, "us-ed25519", KeyEd25519)
	them := cachedParty(t, "them-ed25519", KeyEd25519)
	enc := hexFingerprint(them.self.entity.Subkeys[0].PublicKey)

	_, err := LoadPeer(them.publicPath, []string{enc})
	if !errors.Is(err, ErrNotPinned) {
		t.Fatalf("pinned encryption subkey alone: error %v, want ErrNotPinned", err)
	}
	peer, err := LoadPeer(them.publicPath, []string{them.fp, enc})
	if err != nil {
		t.Fatal(err)
	}
	wantRecipients(t, us, peer, publicEntity(t, them.publicPath), us.self.public)
	wantProblems(t, them.publicPath, []string{them.fp, enc}, map[string]string{enc: "is not flagged for signing"})

	t.Run("signing subkey with back-signature", func(t *testing.T) {
		q, s := signingSubkeyParty(t, "q-backsig", nil)
		path := filepath.Join(t.TempDir(), "them.public.asc")
		writeFile(t, path, append(readFile(t, them.publicPath), readFile(t, q.publicPath)...))
		peer, err := LoadPeer(path, []string{them.fp, s})
		if err != nil {
			t.Fatal(err)
		}
		if fps := peer.Fingerprints(); !slices.Equal(fps, []string{them.fp}) {
			t.Fatalf("fingerprints %v, want only %s", fps, them.fp)
		}
		wantRecipients(t, us, peer, publicEntity(t, them.publicPath), us.self.public)
		msg := sealBytes(t, q.self, us.peer(t), SealOptions{}, []byte("signed by the pinned subkey"))
		if _, m, err := openBytes(msg, us.self, peer, OpenOptions{}); err != nil || m.Signer() != s {
			t.Fatalf("message signed by the pinned subkey: %v", err)
		}
		wantProblems(t, path, []string{them.fp, s}, nil)
	})

	attacker, err := pgptest.NewEntity("attacker", "x@example.org")
	if err != nil {
		t.Fatal(err)
	}
	hostile := map[string]struct {
		edit func(pub, secret *openpgp.Entity) error
		why  string
	}{
		"no back-signature": {func(pub, secret *openpgp.Entity) error {
			return pgptest.ResignBinding(pub, len(pub.Subkeys)-1, secret, true)
		}, "is not validly bound"},
		"binding by another key": {func(pub, _ *openpgp.Entity) error {
			return pgptest.ResignBinding(pub, len(pub.Subkeys)-1, attacker, false)
		}, "is not validly bound"},
	}
	for name, h := range hostile {
		t.Run(name, func(t *testing.T) {
			q, s := signingSubkeyParty(t, "q-"+strings.ReplaceAll(name, " ", "-"), h.edit)
			path := filepath.Join(t.TempDir(), "them.public.asc")
			writeFile(t, path, append(readFile(t, them.publicPath), readFile(t, q.publicPath)...))
			peer, err := LoadPeer(path, []string{them.fp, s})
			if err != nil {
				t.Fatal(err)
			}
			wantRecipients(t, us, peer, publicEntity(t, them.publicPath), us.self.public)
			msg := sealBytes(t, q.self, us.peer(t), SealOptions{}, []byte("signed by a subkey without a valid binding"))
			_, _, err = openBytes(msg, us.self, peer, OpenOptions{})
			wantRefusal(t, err, ErrUnknownSigner)
			wantProblems(t, path, []string{them.fp, s}, map[string]string{
				s:    h.why,
				q.fp: "is not pinned but could encrypt",
			})
		})
	}
}

// signingSubkeyParty makes a party whose key has a signing subkey (with its
// back-signature) beside its encryption subkey; it signs with that subkey.
// edit, when not nil, changes the public key others see (given with the
// secret key, to re-sign with). It returns the party and the signing
// subkey's fingerprint.
func signingSubkeyParty(t testing.TB, id string, edit func(pub, secret *openpgp.Entity) error) (*party, string) {
	t.Helper()
	cfg := pgptest.Config()
	e, err := openpgp.NewEntity("sealpost", "", id, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.AddSigningSubkey(cfg); err != nil {
		t.Fatal(err)
	}
	s := hexFingerprint(e.Subkeys[len(e.Subkeys)-1].PublicKey)
	self, err := newSelf(e)
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := cloneEntity(e).SigningKey(time.Now(), cfg); !ok || hexFingerprint(k.PublicKey) != s {
		t.Fatalf("party %s does not sign with its signing subkey", id)
	}
	pub := publicOnly(t, e)
	if edit != nil {
		if err := edit(pub, e); err != nil {
			t.Fatal(err)
		}
	}
	p := &party{id: id, self: self, fp: fingerprint(e)}
	p.publicPath = armoredFile(t, t.TempDir(), id+".public.asc", pub)
	return p, s
}

// Subkeys of a pinned primary that go-crypto must never pick: newer
// encryption subkeys that are revoked, expired, or bound by another key.
func TestPinnedEntityInvalidSubkeysNeverUsed(t *testing.T) {
	t.Parallel()
	us := cachedParty(t, "us-ed25519", KeyEd25519)
	attacker, err := pgptest.NewEntity("attacker", "x@example.org")
	if err != nil {
		t.Fatal(err)
	}
	var original *openpgp.Entity
	p := backdatedParty(t, "bad-subkeys", func(e *openpgp.Entity, _ *packet.Config) {
		original = publicOnly(t, e)
		add := func(ago, life time.Duration) *openpgp.Subkey {
			at := time.Now().Add(-ago).Truncate(time.Second)
			cfg := &packet.Config{Time: func() time.Time { return at }, KeyLifetimeSecs: uint32(life / time.Second),
				Algorithm: packet.PubKeyAlgoEdDSA, Curve: packet.Curve25519}
			if err := e.AddEncryptionSubkey(cfg); err != nil {
				t.Fatal(err)
			}
			return &e.Subkeys[len(e.Subkeys)-1]
		}
		add(2*time.Hour, time.Minute) // expired
		revoked := add(time.Hour, 0)
		at := time.Now().Add(-30 * time.Minute)
		if err := revoked.Revoke(packet.KeyCompromised, "stolen", &packet.Config{Time: func() time.Time { return at }}); err != nil {
			t.Fatal(err)
		}
		add(10*time.Minute, 0)
		if err := pgptest.ResignBinding(e, len(e.Subkeys)-1, attacker, false); err != nil {
			t.Fatal(err)
		}
	})
	peer, err := LoadPeer(p.publicPath, []string{p.fp})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(publicEntity(t, p.publicPath).Subkeys); n != 4 {
		t.Fatalf("%d subkeys in the file, want 4", n)
	}
	wantRecipients(t, us, peer, original, us.self.public)
	wantProblems(t, p.publicPath, []string{p.fp}, nil)
}

// publicOnly returns a public copy of e as it is now.
func publicOnly(t testing.TB, e *openpgp.Entity) *openpgp.Entity {
	t.Helper()
	pub, err := publicCopy(e)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// Two copies of a pinned key (a stale one without the revocation of a
// subkey, and the current one) are refused whichever comes first: go-crypto
// would use the first and encrypt to the revoked subkey.
func TestLoadPeerRefusesDuplicatePinnedKey(t *testing.T) {
	t.Parallel()
	var stale []byte
	p := backdatedParty(t, "duplicate", func(e *openpgp.Entity, cfg *packet.Config) {
		at := time.Now().Add(-time.Hour).Truncate(time.Second)
		if err := e.AddEncryptionSubkey(&packet.Config{Time: func() time.Time { return at }, Algorithm: packet.PubKeyAlgoEdDSA, Curve: packet.Curve25519}); err != nil {
			t.Fatal(err)
		}
		var err error
		if stale, err = armored(openpgp.PublicKeyType, e.Serialize); err != nil {
			t.Fatal(err)
		}
		revoke := time.Now().Add(-time.Minute)
		if err := e.Subkeys[len(e.Subkeys)-1].Revoke(packet.KeyCompromised, "stolen", &packet.Config{Time: func() time.Time { return revoke }}); err != nil {
			t.Fatal(err)
		}
	})
	for _, staleFirst := range []bool{true, false} {
		data := append(readFile(t, p.publicPath), stale...)
		if staleFirst {
			data = append(slices.Clone(stale), readFile(t, p.publicPath)...)
		}
		path := filepath.Join(t.TempDir(), "dup.asc")
		writeFile(t, path, data)
		_, err := LoadPeer(path, []string{p.fp})
		if err == nil || !strings.Contains(err.Error(), "occurs twice") || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), p.fp) {
			t.Fatalf("stale first %v: error %v, want a refusal naming the file and the key", staleFirst, err)
		}
	}
}

// A partner's key file holding secret key material is refused.
func TestLoadPeerRefusesSecretKey(t *testing.T) {
	t.Parallel()
	them := cachedParty(t, "them-ed25519", KeyEd25519)
	_, err := LoadPeer(them.secretPath, []string{them.fp})
	if err == nil || !strings.Contains(err.Error(), "secret key material") || !strings.Contains(err.Error(), them.secretPath) {
		t.Fatalf("error %v, want a refusal of the secret key naming the file", err)
	}
}

// A pinned signing subkey also bound (without its back-signature) into an
// attacker's entity: the copy is ignored, the genuine binding verifies, and
// CheckKeyFile reports the key that occurs twice.
func TestPinnedSubkeyCopiedIntoAttackerEntity(t *testing.T) {
	t.Parallel()
	us := cachedParty(t, "us-ed25519", KeyEd25519)
	them := cachedParty(t, "them-ed25519", KeyEd25519)
	q, s := signingSubkeyParty(t, "q-copied", nil)
	qPub := publicEntity(t, q.publicPath)
	x, err := pgptest.NewEntity("sealpost", q.id)
	if err != nil {
		t.Fatal(err)
	}
	if err := pgptest.Bind(x, qPub.Subkeys[len(qPub.Subkeys)-1].PublicKey, pgptest.Flags{Sign: true, Encrypt: true}, nil); err != nil {
		t.Fatal(err)
	}
	for _, attackerFirst := range []bool{true, false} {
		dir := t.TempDir()
		ents := []*openpgp.Entity{publicEntity(t, them.publicPath), qPub, x}
		if attackerFirst {
			ents = []*openpgp.Entity{x, publicEntity(t, them.publicPath), qPub}
		}
		path := armoredFile(t, dir, "them.public.asc", ents...)
		peer, err := LoadPeer(path, []string{them.fp, s})
		if err != nil {
			t.Fatal(err)
		}
		wantRecipients(t, us, peer, publicEntity(t, them.publicPath), us.self.public)
		msg := sealBytes(t, q.self, us.peer(t), SealOptions{}, []byte("signed by the pinned subkey"))
		if _, m, err := openBytes(msg, us.self, peer, OpenOptions{}); err != nil || m.Signer() != s {
			t.Fatalf("attacker first %v: %v", attackerFirst, err)
		}
		wantProblems(t, path, []string{them.fp, s}, map[string]string{
			s:              "occurs 2 times",
			fingerprint(x): "is not pinned but could encrypt and sign",
		})
	}
}

// The partner's encryption subkey bound into an attacker's entity (by the
// attacker, as an encryption subkey): the attacker's entity is dropped, and
// CheckKeyFile reports the key that occurs twice and the attacker's key.
func TestPinnedEncryptionSubkeyCopiedIntoAttackerEntity(t *testing.T) {
	t.Parallel()
	us := cachedParty(t, "us-ed25519", KeyEd25519)
	them := cachedParty(t, "them-ed25519", KeyEd25519)
	genuine := publicEntity(t, them.publicPath)
	enc := genuine.Subkeys[0].PublicKey
	x, err := pgptest.NewEntity("sealpost", them.id)
	if err != nil {
		t.Fatal(err)
	}
	if err := pgptest.Bind(x, enc, pgptest.Flags{Encrypt: true}, nil); err != nil {
		t.Fatal(err)
	}
	path := armoredFile(t, t.TempDir(), "them.public.asc", x, genuine)
	peer, err := LoadPeer(path, []string{them.fp})
	if err != nil {
		t.Fatal(err)
	}
	wantRecipients(t, us, peer, genuine, us.self.public)
	wantProblems(t, path, []string{them.fp}, map[string]string{
		hexFingerprint(enc): "occurs 2 times",
		fingerprint(x):      "is not pinned but could encrypt and sign",
	})
}
