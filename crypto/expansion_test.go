package crypto

import (
	"bytes"
	"compress/zlib"
	"crypto/rand"
	"encoding/base64"
	"io"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// bomb is a stranger's message to us: compressed data holding ops (a
// one-pass signature packet, or nothing) and literal data of n zero
// octets, and no signature.
func bomb(t *testing.T, us *party, ops []byte, n int64) []byte {
	var msg bytes.Buffer
	err := encryptStream(&msg, us.peer(t), func(w io.Writer) error {
		if _, err := w.Write([]byte{0xC0 | tagCompressed, 0xE0 | 30, byte(packet.CompressionZLIB)}); err != nil {
			return err
		}
		z, _ := zlib.NewWriterLevel(w, zlib.DefaultCompression)
		z.Write(ops)
		lit, err := packet.SerializeLiteral(nopCloser{z}, true, "", 0)
		if err != nil {
			return err
		}
		if _, err := io.CopyN(lit, zeros{}, n); err != nil {
			return err
		}
		lit.Close()
		return z.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	return msg.Bytes()
}

// TestOpenExpansionBound counts the plaintext Open delivers from a
// stranger's compression bomb (64 MiB of zeros) with no size limit set:
// none at all unless a one-pass signature names a key of the partner, and
// with a forged one that does, at most MaxExpansion times the message.
func TestOpenExpansionBound(t *testing.T) {
	t.Parallel()
	us := cachedParty(t, "us-ed25519", KeyEd25519)
	them := cachedParty(t, "them-ed25519", KeyEd25519)
	stranger := cachedParty(t, "stranger-ed25519", KeyEd25519)
	cases := []struct {
		name string
		ops  []byte
		want error
		max  func(size int64) int64
	}{
		{"no one-pass signature", nil, ErrUnsigned, func(int64) int64 { return 0 }},
		{"one-pass signature by the stranger", opsFor(stranger), ErrUnknownSigner, func(int64) int64 { return 0 }},
		{"one-pass signature forged to name the partner", opsFor(them), ErrLimits,
			func(size int64) int64 { return MaxExpansion*size + expansionSlack }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg := bomb(t, us, c.ops, 64<<20)
			var n int64
			m, err := Open(bytes.NewReader(msg), us.self, them.peer(t), OpenOptions{})
			if err == nil {
				n, err = io.Copy(io.Discard, m)
			}
			wantRefusal(t, err, c.want)
			t.Logf("a %d-byte message delivered %d bytes", len(msg), n)
			if max := c.max(int64(len(msg))); n > max {
				t.Errorf("delivered %d bytes, want at most %d", n, max)
			}
		})
	}
}

// TestOpenCompressedWithinExpansion: a genuine compressed message whose
// data compresses as text does opens whole.
func TestOpenCompressedWithinExpansion(t *testing.T) {
	t.Parallel()
	us := cachedParty(t, "us-ed25519", KeyEd25519)
	them := cachedParty(t, "them-ed25519", KeyEd25519)
	raw := make([]byte, 3<<20)
	rand.Read(raw)
	data := []byte(base64.StdEncoding.EncodeToString(raw))
	for _, profile := range []Profile{ProfileRFC4880, ProfileRFC9580} {
		msg := sealBytes(t, them.self, us.peer(t), SealOptions{Compress: true, Profile: profile}, data)
		got, _, err := openBytes(msg, us.self, them.peer(t), OpenOptions{})
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("profile %s: %v", profile, err)
		}
	}
}

// TestOpenRefusesDataAfterArmour: after an armoured message only its end
// line and white space may follow, as nothing may follow a binary one.
func TestOpenRefusesDataAfterArmour(t *testing.T) {
	t.Parallel()
	us := cachedParty(t, "us-ed25519", KeyEd25519)
	them := cachedParty(t, "them-ed25519", KeyEd25519)
	msg := sealBytes(t, them.self, us.peer(t), SealOptions{Armor: true}, []byte("genuine"))
	cases := []struct {
		name, tail string
		want       error
	}{
		{"nothing", "", nil},
		{"blank lines", "\n\r\n \t\n", nil},
		{"a line of text", "appended\n", ErrIntegrity},
		{"a NUL octet", "\x00", ErrIntegrity},
		{"a second end line", "-----END PGP MESSAGE-----\n", ErrIntegrity},
		{"a second message", string(msg), ErrIntegrity},
	}
	for _, c := range cases {
		_, _, err := openBytes(append(bytes.Clone(msg), c.tail...), us.self, them.peer(t), OpenOptions{})
		if c.want == nil {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		wantRefusal(t, err, c.want)
	}
}

// TestOpenBehindSymmetricSessionKey puts a symmetric session key packet
// (which a stranger may add to any message) ahead of messages to us: the
// framer's rules still apply to what is inside (a compression bomb behind
// a forged one-pass signature is refused as limits, not decompressed by
// go-crypto without bound), and a genuine bundle still opens.
func TestOpenBehindSymmetricSessionKey(t *testing.T) {
	t.Parallel()
	us := cachedParty(t, "us-ed25519", KeyEd25519)
	them := cachedParty(t, "them-ed25519", KeyEd25519)
	msg := append(append([]byte{}, skesk...), bomb(t, us, opsFor(them), 64<<20)...)
	m, err := Open(bytes.NewReader(msg), us.self, them.peer(t), OpenOptions{})
	if err == nil {
		_, err = io.Copy(io.Discard, m)
	}
	if Code(err) != Code(ErrLimits) {
		t.Errorf("a bomb behind a symmetric session key packet: %v, want code %q", err, Code(ErrLimits))
	}
	genuine := sealBytes(t, them.self, us.peer(t), SealOptions{}, []byte("genuine"))
	m, err = Open(bytes.NewReader(append(append([]byte{}, skesk...), genuine...)), us.self, them.peer(t), OpenOptions{})
	if err != nil {
		t.Fatalf("a genuine bundle behind a symmetric session key packet: %v", err)
	}
	if got, err := io.ReadAll(m); err != nil || string(got) != "genuine" {
		t.Errorf("read %q, %v; want %q", got, err, "genuine")
	}
}
