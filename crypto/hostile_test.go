package crypto

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"crypto"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// hostileChildEnv names the hostile input a child process of
// TestOpenHostileInputMemory opens.
const hostileChildEnv = "SEALPOST_HOSTILE_INPUT"

// hostileSize is the size of each hostile packet: far more than Open may
// hold in memory.
const hostileSize = 256 << 20

// maxHostileRSS is the bound on a child's peak RSS, the Go runtime and
// the test binary included.
const maxHostileRSS = 64 << 20

// hostileInput is a stranger's message, made on the fly (never stored).
type hostileInput struct {
	name string
	make func(t testing.TB, us, them *party) io.Reader
	want error
}

// header is a new-format packet header with a five-octet length.
func header(tag byte, length uint32) []byte {
	h := []byte{0xC0 | tag, 0xFF, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(h[2:], length)
	return h
}

// huge is a packet of tag with hostileSize zero octets of body.
func huge(tag byte) io.Reader {
	return io.MultiReader(bytes.NewReader(header(tag, hostileSize)), io.LimitReader(zeros{}, hostileSize))
}

// outer is a hostile message that needs no key: packets as sent.
func outer(r io.Reader) func(testing.TB, *party, *party) io.Reader {
	return func(testing.TB, *party, *party) io.Reader { return r }
}

// encryptedTo encrypts, as anyone holding our public key can, the packet
// stream that inner writes, as it is read: in a SEIPDv1 packet to us.
func encryptedTo(inner func(w io.Writer, them *party) error) func(testing.TB, *party, *party) io.Reader {
	return func(t testing.TB, us, them *party) io.Reader {
		pr, pw := io.Pipe()
		go func() {
			pw.CloseWithError(encryptStream(pw, us.peer(t), func(w io.Writer) error { return inner(w, them) }))
		}()
		return pr
	}
}

// encryptStream writes a session key packet for to and a SEIPDv1 packet
// holding what inner writes.
func encryptStream(out io.Writer, to *Peer, inner func(io.Writer) error) error {
	cfg := &packet.Config{DefaultCipher: packet.CipherAES256}
	key := make([]byte, 32)
	rand.Read(key)
	k, _ := to.entities[0].EncryptionKey(time.Now(), cfg)
	if err := packet.SerializeEncryptedKeyAEAD(out, k.PublicKey, packet.CipherAES256, false, key, cfg); err != nil {
		return err
	}
	w, err := packet.SerializeSymmetricallyEncrypted(out, packet.CipherAES256, false, packet.CipherSuite{}, key, cfg)
	if err != nil {
		return err
	}
	if err := inner(w); err != nil {
		return err
	}
	return w.Close()
}

// skesk is a symmetric session key packet (v4, AES-256, iterated and
// salted SHA-256 S2K) that no passphrase of ours opens.
var skesk = []byte{0xC0 | tagSKESK, 13, 4, byte(packet.CipherAES256), 3, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0x60}

// behindSKESK puts a symmetric session key packet ahead of a message.
func behindSKESK(msg func(testing.TB, *party, *party) io.Reader) func(testing.TB, *party, *party) io.Reader {
	return func(t testing.TB, us, them *party) io.Reader {
		return io.MultiReader(bytes.NewReader(skesk), msg(t, us, them))
	}
}

// headerKeys is an armour header of distinct keys without end.
type headerKeys struct{ n int }

func (h *headerKeys) Read(p []byte) (int, error) {
	if len(p) < 32 {
		return 0, io.ErrShortBuffer
	}
	h.n++
	return copy(p, fmt.Sprintf("K%d: v\n", h.n)), nil
}

// writeHuge writes a packet of tag with hostileSize zero octets.
func writeHuge(tag byte) func(io.Writer, *party) error {
	return func(w io.Writer, _ *party) error {
		_, err := io.Copy(w, huge(tag))
		return err
	}
}

// opsFor is a one-pass signature packet naming the signing key of p: a
// stranger can forge it, since it is not signed.
func opsFor(p *party) []byte {
	k, _ := p.self.entity.SigningKey(time.Now(), nil)
	var b bytes.Buffer
	ops := &packet.OnePassSignature{Version: 3, SigType: packet.SigTypeBinary, Hash: crypto.SHA256,
		PubKeyAlgo: k.PublicKey.PubKeyAlgo, KeyId: k.PublicKey.KeyId, IsLast: true}
	ops.Serialize(&b)
	return b.Bytes()
}

// sealedThen is a genuine message from them to us with hostileSize zero
// octets after it.
func sealedThen(profile Profile) func(testing.TB, *party, *party) io.Reader {
	return func(t testing.TB, us, them *party) io.Reader {
		msg := sealBytes(t, them.self, us.peer(t), SealOptions{Profile: profile}, []byte("genuine"))
		return io.MultiReader(bytes.NewReader(msg), io.LimitReader(zeros{}, hostileSize))
	}
}

func hostileInputs() []hostileInput {
	return []hostileInput{
		// Before the encrypted data: no key needed.
		{"unknown non-critical packet", outer(huge(60)), ErrDecrypt},
		{"unknown critical packet", outer(huge(30)), ErrDecrypt},
		{"session key packet", outer(huge(tagPKESK)), ErrDecrypt},
		{"symmetric session key packet", outer(huge(tagSKESK)), ErrDecrypt},
		{"marker packet", outer(huge(tagMarker)), ErrDecrypt},
		{"padding packet", outer(huge(tagPadding)), ErrDecrypt},
		{"user id packet", outer(huge(13)), ErrDecrypt},
		{"signature packet", outer(huge(tagSignature)), ErrDecrypt},
		{"literal data, not encrypted", outer(huge(tagLiteral)), ErrDecrypt},
		{"armour header without end", outer(io.MultiReader(strings.NewReader("-----BEGIN PGP MESSAGE-----\nComment: "), io.LimitReader(zeros{}, hostileSize))), ErrDecrypt},
		{"armour header of many keys", outer(io.MultiReader(strings.NewReader("-----BEGIN PGP MESSAGE-----\n"), io.LimitReader(&headerKeys{}, hostileSize))), ErrDecrypt},
		{"old-format marker to the end", outer(io.MultiReader(bytes.NewReader([]byte{0x80 | tagMarker<<2 | 3}), io.LimitReader(zeros{}, hostileSize))), ErrDecrypt},
		{"encrypted data in 1 GiB chunks, not for us", outer(io.MultiReader(bytes.NewReader([]byte{0xC0 | tagSEIPD, 0xE0 | 30, 1}), io.LimitReader(zeros{}, hostileSize))), ErrDecrypt},
		// After the encrypted data.
		{"data after a SEIPDv1 packet", sealedThen(ProfileRFC4880), ErrIntegrity},
		{"data after a SEIPDv2 packet", sealedThen(ProfileRFC9580), ErrIntegrity},
		// Inside the encryption: a stranger encrypts to our public key.
		{"user id packet inside", encryptedTo(writeHuge(13)), ErrIntegrity},
		{"public key packet inside", encryptedTo(writeHuge(6)), ErrIntegrity},
		{"signature packet inside", encryptedTo(writeHuge(tagSignature)), ErrIntegrity},
		{"one-pass signature packet inside", encryptedTo(writeHuge(tagOPS)), ErrIntegrity},
		{"unknown packet inside", encryptedTo(writeHuge(60)), ErrIntegrity},
		// A symmetric session key packet ahead of ours: the message must
		// still go through the inner framer, never through go-crypto alone.
		{"user id packet inside, behind a symmetric session key packet", behindSKESK(encryptedTo(writeHuge(13))), ErrIntegrity},
		{"unknown packet inside, behind a symmetric session key packet", behindSKESK(encryptedTo(writeHuge(60))), ErrIntegrity},
		{"padding packet inside", encryptedTo(writeHuge(tagPadding)), ErrIntegrity},
		{"unsigned literal data inside", encryptedTo(writeHuge(tagLiteral)), ErrUnsigned},
		{"compressed user id packet inside", encryptedTo(func(w io.Writer, _ *party) error {
			if _, err := w.Write(append(header(tagCompressed, 0)[:1], 0xE0|30, byte(packet.CompressionZLIB))); err != nil {
				return err
			}
			z, _ := zlib.NewWriterLevel(w, zlib.BestSpeed)
			if _, err := io.Copy(z, huge(13)); err != nil {
				return err
			}
			return z.Close() // the partial chunk ends early: a truncation
		}), ErrIntegrity},
		{"literal data in 1 GiB chunks behind a forged one-pass signature", encryptedTo(func(w io.Writer, them *party) error {
			if _, err := w.Write(append(opsFor(them), 0xC0|tagLiteral, 0xE0|30, 'b', 0, 0, 0, 0, 0)); err != nil {
				return err
			}
			_, err := io.CopyN(w, zeros{}, hostileSize)
			return err // the chunk ends early: a truncation
		}), ErrIntegrity},
	}
}

// TestOpenHostileInputMemory opens each hostile input in a child process
// and checks its peak RSS: whatever a stranger sends, Open holds a bounded
// amount of it in memory, and refuses it with the right code.
func TestOpenHostileInputMemory(t *testing.T) {
	t.Parallel()
	if name := os.Getenv(hostileChildEnv); name != "" {
		openHostileChild(t, name)
		return
	}
	for _, in := range hostileInputs() {
		t.Run(in.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestOpenHostileInputMemory$", "-test.count=1")
			cmd.Env = append(os.Environ(), hostileChildEnv+"="+in.name)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			rss := childPeak(t, out)
			code := childCode(out)
			t.Logf("peak RSS %.1f MiB, code %q", float64(rss)/(1<<20), code)
			if rss >= maxHostileRSS*raceAllowance {
				t.Errorf("peak RSS %d bytes, want < %d", rss, maxHostileRSS*raceAllowance)
			}
			if want := Code(in.want); code != want {
				t.Errorf("refused with code %q, want %q\n%s", code, want, out)
			}
		})
	}
}

// openHostileChild opens the named hostile input and prints its code.
func openHostileChild(t *testing.T, name string) {
	us := cachedParty(t, "us-ed25519", KeyEd25519)
	them := cachedParty(t, "them-ed25519", KeyEd25519)
	for _, in := range hostileInputs() {
		if in.name != name {
			continue
		}
		m, err := Open(in.make(t, us, them), us.self, them.peer(t), OpenOptions{})
		if err == nil {
			_, err = io.Copy(io.Discard, m)
		}
		os.Stdout.WriteString("\nhostile-code=" + Code(err) + "\nhostile-error=" + errText(err) + "\n" + peakLine(t) + "\n")
		return
	}
	t.Fatalf("no hostile input %q", name)
}

func errText(err error) string {
	if err == nil {
		return "accepted"
	}
	return err.Error()
}

// childCode finds the code a child printed.
func childCode(out []byte) string {
	if code, ok := childValue(out, "hostile-code="); ok {
		return code
	}
	return "(none printed)"
}

// childValue is the rest of the child's output line starting with key.
func childValue(out []byte, key string) (string, bool) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key); ok {
			return v, true
		}
	}
	return "", false
}

// peakLine is the child's peak RSS line: VmHWM of /proc/self/status, the
// high-water mark of this process's own memory since exec. (The rusage of
// a child also counts the parent's high-water mark at the time of exec, as
// the child is vforked: with tests running in parallel in the parent that
// says nothing about the child.)
func peakLine(t *testing.T) string {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	v, ok := childValue(status, "VmHWM:")
	if !ok {
		t.Fatal("no VmHWM in /proc/self/status")
	}
	return "hostile-peak-kib=" + strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
}

// childPeak is the peak RSS in bytes the child printed (peakLine).
func childPeak(t *testing.T, out []byte) int64 {
	t.Helper()
	v, ok := childValue(out, "hostile-peak-kib=")
	kib, err := strconv.ParseInt(v, 10, 64)
	if !ok || err != nil {
		t.Fatalf("the child printed no peak RSS (%v):\n%s", err, out)
	}
	return kib << 10
}
