package crypto

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"
)

// framingSizes are plaintext sizes around the partial-length chunk
// boundaries of the literal data (6 header octets) and of the SEIPDv1 body
// (version octet, 18-octet prefix, 22-octet MDC, and the packets around the
// literal data).
var framingSizes = []int{0, 1, 505, 506, 507, chunkSize - 300, chunkSize - 6, chunkSize - 5, chunkSize,
	chunkSize + 1, 2*chunkSize - 6, 3*chunkSize + 17}

// Seal's own framing and SEIPDv1 writer open with go-crypto at every size
// around the chunk boundaries, in both profiles, written in one call and
// in odd pieces.
func TestSealFramingSizes(t *testing.T) {
	t.Parallel()
	us := cachedParty(t, "us-ed25519", KeyEd25519)
	them := cachedParty(t, "them-ed25519", KeyEd25519)
	for _, p := range benchProfiles {
		for _, size := range framingSizes {
			for _, piece := range []int{0, 7, 40_000} {
				t.Run(fmt.Sprintf("%s/%d/piece=%d", p, size, piece), func(t *testing.T) {
					data := make([]byte, size)
					rand.Read(data)
					var buf bytes.Buffer
					sw, err := Seal(&buf, us.self, them.peer(t), SealOptions{Profile: p})
					if err != nil {
						t.Fatal(err)
					}
					rest := data
					for len(rest) > 0 {
						n := len(rest)
						if piece > 0 {
							n = min(n, piece)
						}
						if _, err := sw.Write(rest[:n]); err != nil {
							t.Fatal(err)
						}
						rest = rest[n:]
					}
					if err := sw.Close(); err != nil {
						t.Fatal(err)
					}
					got, _, err := openBytes(buf.Bytes(), them.self, us.peer(t), OpenOptions{})
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, data) {
						t.Fatalf("opened %d bytes, differ from the %d sealed", len(got), len(data))
					}
				})
			}
		}
	}
}

// GnuPG 2.2 decrypts and verifies our SEIPDv1 framing at the boundary sizes.
func TestGPGOpensFramingSizes(t *testing.T) {
	t.Parallel()
	w := theGPGWorld(t)
	for _, size := range framingSizes {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			data := make([]byte, size)
			rand.Read(data)
			msg := sealBytes(t, w.us.self, gpgPeer(t, w.edPath, w.ed), SealOptions{Profile: ProfileRFC4880}, data)
			plain, st, stderr := w.home.decrypt(t, msg)
			checkGPGVerified(t, st, stderr, w.us.fp)
			if !bytes.Equal(plain, data) {
				t.Fatal("gpg's plaintext differs")
			}
		})
	}
}

// A flipped ciphertext octet anywhere in our SEIPDv1 packet is refused.
func TestSealTamperedSEIPD1(t *testing.T) {
	t.Parallel()
	us := cachedParty(t, "us-ed25519", KeyEd25519)
	them := cachedParty(t, "them-ed25519", KeyEd25519)
	data := make([]byte, chunkSize+1000)
	rand.Read(data)
	msg := sealBytes(t, us.self, them.peer(t), SealOptions{Profile: ProfileRFC4880}, data)
	for _, off := range []int{len(msg) / 2, len(msg) - 30, len(msg) - 2} {
		bad := bytes.Clone(msg)
		bad[off] ^= 0x40
		if _, _, err := openBytes(bad, them.self, us.peer(t), OpenOptions{}); err == nil {
			t.Fatalf("flip at %d of %d: opened", off, len(msg))
		}
	}
}

// Our SEIPDv1 messages and GnuPG's take Open's own decryption path; a
// modified or truncated ciphertext there is an integrity failure, as on
// go-crypto's path.
func TestOpenSEIPD1Path(t *testing.T) {
	t.Parallel()
	us := cachedParty(t, "us-ed25519", KeyEd25519)
	them := cachedParty(t, "them-ed25519", KeyEd25519)
	data := make([]byte, 3*mdcBuf+5)
	rand.Read(data)
	msg := sealBytes(t, us.self, them.peer(t), SealOptions{Profile: ProfileRFC4880}, data)
	got, m, err := openBytes(msg, them.self, us.peer(t), OpenOptions{})
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("open: %v", err)
	}
	if _, own := m.inner.src.(*mdcReader); !own {
		t.Fatal("SEIPDv1 message was not decrypted by mdcReader")
	}
	v2 := sealBytes(t, us.self, them.peer(t), SealOptions{Profile: ProfileRFC9580}, data)
	if _, m, err := openBytes(v2, them.self, us.peer(t), OpenOptions{}); err != nil {
		t.Fatalf("SEIPDv2: %v", err)
	} else if _, own := m.inner.src.(*mdcReader); own {
		t.Fatal("SEIPDv2 message was decrypted by mdcReader")
	}
	for _, cut := range []int{1, 21, 22, 23, 1000, mdcBuf} {
		_, _, err := openBytes(msg[:len(msg)-cut], them.self, us.peer(t), OpenOptions{})
		wantRefusal(t, err, ErrIntegrity)
	}
	for _, off := range []int{300, len(msg) / 2, len(msg) - 25} {
		bad := bytes.Clone(msg)
		bad[off] ^= 1
		_, _, err := openBytes(bad, them.self, us.peer(t), OpenOptions{})
		wantRefusal(t, err, ErrIntegrity)
	}
}

// failAfter accepts limit octets, then fails every write.
type failAfter struct{ limit int }

var errFailAfter = errors.New("disk full")

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.limit {
		f.limit = 0
		return 0, errFailAfter
	}
	f.limit -= len(p)
	return len(p), nil
}

// A write error of the destination, met by the SEIPDv1 writer's sender
// goroutine, reaches the caller from a later Write or from Close, at
// every point of the stream, and the writer stays failed.
func TestSealSEIPD1WriteError(t *testing.T) {
	t.Parallel()
	us := cachedParty(t, "us-ed25519", KeyEd25519)
	them := cachedParty(t, "them-ed25519", KeyEd25519)
	data := make([]byte, 3*chunkSize+100)
	for _, limit := range []int{2000, chunkSize / 2, 2 * chunkSize, 3*chunkSize + 50} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			sw, err := Seal(&failAfter{limit: limit}, us.self, them.peer(t), SealOptions{Profile: ProfileRFC4880})
			if err != nil {
				t.Fatal(err)
			}
			_, werr := sw.Write(data)
			cerr := sw.Close()
			if werr == nil && cerr == nil {
				t.Fatal("Write and Close succeeded over a failing destination")
			}
			if werr != nil && !errors.Is(werr, errFailAfter) || werr == nil && !errors.Is(cerr, errFailAfter) {
				t.Fatalf("got Write %v, Close %v; want %v", werr, cerr, errFailAfter)
			}
			if sw.Close() == nil {
				t.Fatal("a second Close succeeded")
			}
		})
	}
}
