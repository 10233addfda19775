package exchange

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/sealpost/sealpost/crypto"
)

// chunkPipe delivers what was written, in order, across chunk boundaries,
// through Read and WriteTo alike, then the writer's close error.
func TestChunkPipe(t *testing.T) {
	t.Parallel()
	data := make([]byte, 3*pipeChunkSize+12345)
	rand.Read(data)
	for _, viaWriteTo := range []bool{false, true} {
		p := newChunkPipe()
		got := make(chan []byte)
		go func() {
			var b bytes.Buffer
			if viaWriteTo {
				p.WriteTo(&b)
			} else {
				io.Copy(struct{ io.Writer }{&b}, struct{ io.Reader }{p})
			}
			got <- b.Bytes()
		}()
		for rest := data; len(rest) > 0; {
			n := min(len(rest), 70000)
			if _, err := p.Write(rest[:n]); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
		}
		p.Close()
		if !bytes.Equal(<-got, data) {
			t.Fatalf("WriteTo=%v: data differs", viaWriteTo)
		}
	}
	// A reader that stops makes the writer fail with its reason, at once.
	p := newChunkPipe()
	stop := errors.New("reader gave up")
	p.CloseRead(stop)
	var err error
	for range 2 * pipeChunks {
		if _, err = p.Write(make([]byte, pipeChunkSize)); err != nil {
			break
		}
	}
	if !errors.Is(err, stop) {
		t.Fatalf("Write after CloseRead = %v", err)
	}
	// The writer's error reaches the reader after the data.
	p = newChunkPipe()
	p.Write([]byte("abc"))
	p.CloseWithError(stop)
	b, err := io.ReadAll(p)
	if string(b) != "" || !errors.Is(err, stop) { // a partial chunk is not sent on error
		t.Fatalf("ReadAll = %q, %v", b, err)
	}
}

// selfCheck opens a good bundle to the plaintext's hash and refuses one
// modified anywhere.
func TestSelfCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secret, _, _, err := crypto.GenerateKey("us", crypto.KeyEd25519, nil)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "s.asc"), secret, 0o600)
	self, err := crypto.LoadSelf(filepath.Join(dir, "s.asc"), nil)
	if err != nil {
		t.Fatal(err)
	}
	plain := make([]byte, 1<<20)
	rand.Read(plain)
	var msg bytes.Buffer
	sw, err := crypto.Seal(&msg, self, self.Public(), crypto.SealOptions{Profile: crypto.ProfileRFC4880})
	if err != nil {
		t.Fatal(err)
	}
	sw.Write(plain)
	sw.Close()
	sum := newPlainSum()
	sum.Write(plain)
	want := sum.Sum(nil)
	if res := selfCheck(bytes.NewReader(msg.Bytes()), self); res.err != nil || !bytes.Equal(res.sum, want) {
		t.Fatalf("good bundle: %v", res.err)
	}
	for _, off := range []int{msg.Len() / 3, msg.Len() - 5} {
		bad := bytes.Clone(msg.Bytes())
		bad[off] ^= 0x10
		if res := selfCheck(bytes.NewReader(bad), self); res.err == nil && bytes.Equal(res.sum, want) {
			t.Fatalf("flip at %d passed the self-check", off)
		}
	}
}
