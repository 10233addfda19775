package crypto

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fuzzPlaintext is the only plaintext test-b ever signed (see
// testdata/genfixtures): anything else that verifies is a forgery.
const fuzzPlaintext = "sealpost fuzz seed: the only plaintext ever signed by test-b\n"

// fixedKeys loads the committed test keys: test-a opens, test-b signs.
func fixedKeys(t testing.TB) (*Self, *Peer, string) {
	t.Helper()
	dir := filepath.Join("..", "testdata", "keys")
	self, err := LoadSelf(filepath.Join(dir, "test-a.secret.asc"), nil)
	if err != nil {
		t.Fatal(err)
	}
	fp, err := os.ReadFile(filepath.Join(dir, "test-b.fingerprint"))
	if err != nil {
		t.Fatal(err)
	}
	peer, err := LoadPeer(filepath.Join(dir, "test-b.public.asc"), []string{strings.TrimSpace(string(fp))})
	if err != nil {
		t.Fatal(err)
	}
	return self, peer, strings.TrimSpace(string(fp))
}

// FuzzOpen feeds arbitrary bytes to Open: it must never panic, every
// refusal must map to exactly one receipt code, and only test-b's one
// signed plaintext may ever verify.
func FuzzOpen(f *testing.F) {
	self, peer, signer := fixedKeys(f)
	f.Fuzz(func(t *testing.T, msg []byte) {
		m, err := Open(bytes.NewReader(msg), self, peer, OpenOptions{MaxBytes: 1 << 20})
		if err == nil {
			var data []byte
			data, err = io.ReadAll(m)
			if err == nil {
				if string(data) != fuzzPlaintext || m.Signer() != signer {
					t.Fatalf("verified forgery: %q signed by %s", data, m.Signer())
				}
				return
			}
		}
		if Code(err) == "" {
			t.Fatalf("error without a receipt code: %v", err)
		}
	})
}

// The committed seeds: the whole messages sealed by test-b (odd numbers up
// to 11, and the seeds whose name ends in "-opens": gpg's, and ours
// re-framed) open to the one plaintext; every other seed is refused.
func TestFuzzOpenSeeds(t *testing.T) {
	t.Parallel()
	self, peer, signer := fixedKeys(t)
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzOpen", "seed-*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no seeds: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			var n int
			fmt.Sscanf(filepath.Base(file), "seed-%d", &n)
			data, m, err := openBytes(readSeed(t, file), self, peer, OpenOptions{})
			if n <= 11 && n%2 == 1 || strings.HasSuffix(file, "-opens") {
				if err != nil || string(data) != fuzzPlaintext || m.Signer() != signer {
					t.Fatalf("seed does not open: %v", err)
				}
				return
			}
			if Code(err) == "" {
				t.Fatalf("seed not refused with a code: %v", err)
			}
		})
	}
}

// readSeed decodes a "go test fuzz v1" file holding one []byte.
func readSeed(t testing.TB, path string) []byte {
	t.Helper()
	lines := strings.SplitN(string(readFile(t, path)), "\n", 3)
	lit := strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")")
	s, err := strconv.Unquote(lit)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return []byte(s)
}
