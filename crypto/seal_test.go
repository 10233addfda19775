package crypto

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

func TestSealOpenRoundTrip(t *testing.T) {
	t.Parallel()
	data := make([]byte, 300_000)
	rand.Read(data)
	for _, algo := range []KeyAlgo{KeyEd25519, KeyRSA4096} {
		us := cachedParty(t, "us-"+string(algo), algo)
		them := cachedParty(t, "them-"+string(algo), algo)
		for _, profile := range []Profile{ProfileAuto, ProfileRFC4880, ProfileRFC9580} {
			for _, compress := range []bool{false, true} {
				for _, armored := range []bool{false, true} {
					name := fmt.Sprintf("%s/%s/zlib=%v/armor=%v", algo, profile, compress, armored)
					t.Run(name, func(t *testing.T) {
						opt := SealOptions{Profile: profile, Compress: compress, Armor: armored}
						msg := sealBytes(t, us.self, them.peer(t), opt, data)
						got, m, err := openBytes(msg, them.self, us.peer(t), OpenOptions{MaxBytes: 1 << 20})
						if err != nil {
							t.Fatal(err)
						}
						if !bytes.Equal(got, data) {
							t.Fatal("plaintext differs")
						}
						if m.Signer() != us.fp || m.Armored() != armored {
							t.Fatalf("signer %s armored %v, want %s %v", m.Signer(), m.Armored(), us.fp, armored)
						}
						// Our own copy opens with our key, verified against ourselves.
						if _, _, err := openBytes(msg, us.self, us.self.Public(), OpenOptions{}); err != nil {
							t.Fatalf("own copy: %v", err)
						}
					})
				}
			}
		}
	}
}

func TestSealNoSelfCopy(t *testing.T) {
	t.Parallel()
	us := cachedParty(t, "us-ed25519", KeyEd25519)
	them := cachedParty(t, "them-ed25519", KeyEd25519)
	msg := sealBytes(t, us.self, them.peer(t), SealOptions{NoSelfCopy: true}, []byte("hello"))
	if _, _, err := openBytes(msg, them.self, us.peer(t), OpenOptions{}); err != nil {
		t.Fatal(err)
	}
	_, _, err := openBytes(msg, us.self, us.self.Public(), OpenOptions{})
	wantRefusal(t, err, ErrDecrypt)
	if n := len(packetsOf(t, msg).pkesk); n != 1 {
		t.Fatalf("%d PKESKs, want 1", n)
	}
}

// layout is the outer packet structure of a message.
type layout struct {
	pkesk []int // versions of the public-key encrypted session key packets
	seipd int   // version of the encrypted data packet (0: none)
}

// packetsOf parses the outer packets of msg (binary or armoured).
func packetsOf(t testing.TB, msg []byte) layout {
	t.Helper()
	var r io.Reader = bytes.NewReader(msg)
	if msg[0]&0x80 == 0 {
		block, err := armor.Decode(r)
		if err != nil {
			t.Fatal(err)
		}
		r = block.Body
	}
	var l layout
	pr := packet.NewReader(r)
	for {
		p, err := pr.Next()
		if err != nil {
			t.Fatalf("parse: %v", err)
		}
		switch p := p.(type) {
		case *packet.EncryptedKey:
			l.pkesk = append(l.pkesk, p.Version)
		case *packet.SymmetricallyEncrypted:
			l.seipd = p.Version
			return l
		default:
			t.Fatalf("unexpected packet %T", p)
		}
	}
}

func TestProfiles(t *testing.T) {
	t.Parallel()
	us := cachedParty(t, "us-ed25519", KeyEd25519)
	them := cachedParty(t, "them-ed25519", KeyEd25519)
	usV2 := aeadParty(t, "us-aead")
	themV2 := aeadParty(t, "them-aead")
	cases := []struct {
		name    string
		self    *party
		to      *party
		profile Profile
		noSelf  bool
		want    int
	}{
		{"auto, keys without SEIPDv2", us, them, ProfileAuto, false, 1},
		{"auto, all keys advertise", usV2, themV2, ProfileAuto, false, 2},
		{"auto, partner advertises, self does not", us, themV2, ProfileAuto, false, 1},
		{"auto, partner advertises, no self copy", us, themV2, ProfileAuto, true, 2},
		{"rfc4880 forces v1", usV2, themV2, ProfileRFC4880, false, 1},
		{"rfc9580 forces v2", us, them, ProfileRFC9580, false, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opt := SealOptions{Profile: c.profile, NoSelfCopy: c.noSelf}
			msg := sealBytes(t, c.self.self, c.to.peer(t), opt, []byte("payload"))
			l := packetsOf(t, msg)
			if l.seipd != c.want {
				t.Fatalf("SEIPD v%d, want v%d", l.seipd, c.want)
			}
			wantPKESK := map[int]int{1: 3, 2: 6}[c.want]
			for _, v := range l.pkesk {
				if v != wantPKESK {
					t.Fatalf("PKESK v%d with SEIPD v%d", v, c.want)
				}
			}
			if _, _, err := openBytes(msg, c.to.self, c.self.peer(t), OpenOptions{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSealUnknownProfile(t *testing.T) {
	t.Parallel()
	us := cachedParty(t, "us-ed25519", KeyEd25519)
	_, err := Seal(io.Discard, us.self, us.self.Public(), SealOptions{Profile: "pgp2"})
	if err == nil {
		t.Fatal("unknown profile accepted")
	}
}

func TestMessageReadStickyAndSigner(t *testing.T) {
	t.Parallel()
	us := cachedParty(t, "us-ed25519", KeyEd25519)
	them := cachedParty(t, "them-ed25519", KeyEd25519)
	msg := sealBytes(t, us.self, them.peer(t), SealOptions{}, bytes.Repeat([]byte("x"), 100_000))
	m, err := Open(bytes.NewReader(msg), them.self, us.peer(t), OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1000)
	if _, err := m.Read(buf); err != nil {
		t.Fatal(err)
	}
	if m.Signer() != "" {
		t.Fatal("Signer set before EOF")
	}
	if _, err := io.Copy(io.Discard, m); err != nil {
		t.Fatal(err)
	}
	if m.Signer() != us.fp {
		t.Fatalf("Signer %q, want %q", m.Signer(), us.fp)
	}
	if n, err := m.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("Read after EOF = %d, %v", n, err)
	}
}

// A signature time slightly ahead of the receiver's clock (within
// MaxClockSkew) is accepted and is the time Seal was given.
func TestSealTimeIsSignatureTime(t *testing.T) {
	t.Parallel()
	us := cachedParty(t, "us-ed25519", KeyEd25519)
	them := cachedParty(t, "them-ed25519", KeyEd25519)
	when := time.Now().Add(MaxClockSkew - time.Minute).Truncate(time.Second)
	msg := sealBytes(t, us.self, them.peer(t), SealOptions{Time: when}, []byte("x"))
	m, err := Open(bytes.NewReader(msg), them.self, us.peer(t), OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(m); err != nil {
		t.Fatal(err)
	}
	if got := m.md.Signature.CreationTime; !got.Equal(when) {
		t.Fatalf("signature time %v, want %v", got, when)
	}
}
