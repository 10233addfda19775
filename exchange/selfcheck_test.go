package exchange

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/sealpost/sealpost/crypto"
)

// selfCheck opens a good bundle to the plaintext's hash and refuses one
// modified anywhere.
func TestSelfCheck(t *testing.T) {
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
