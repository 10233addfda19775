// Command genfixtures writes the fixed test keys (testdata/keys/) and the
// seed corpus of FuzzOpen (crypto/testdata/fuzz/FuzzOpen/). Run it from the
// module root once; the output is committed:
//
//	go run ./crypto/testdata/genfixtures
package main

import (
	"bytes"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/sealpost/sealpost/crypto"
)

// Plaintext is what every sealed seed carries (FuzzOpen checks it).
const Plaintext = "sealpost fuzz seed: the only plaintext ever signed by test-b\n"

func main() {
	keys := filepath.Join("testdata", "keys")
	seeds := filepath.Join("crypto", "testdata", "fuzz", "FuzzOpen")
	for _, d := range []string{keys, seeds} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			log.Fatal(err)
		}
	}
	for _, id := range []string{"test-a", "test-b"} {
		secret, public, fp, err := crypto.GenerateKey(id, crypto.KeyEd25519, nil)
		if err != nil {
			log.Fatal(err)
		}
		write(filepath.Join(keys, id+".secret.asc"), secret)
		write(filepath.Join(keys, id+".public.asc"), public)
		write(filepath.Join(keys, id+".fingerprint"), []byte(fp+"\n"))
	}
	a := loadSelf(keys, "test-a")
	b := loadSelf(keys, "test-b")
	n := 0
	for _, opt := range []crypto.SealOptions{
		{},
		{Compress: true},
		{Armor: true},
		{Profile: crypto.ProfileRFC9580},
		{Profile: crypto.ProfileRFC9580, Compress: true, Armor: true},
		{NoSelfCopy: true},
	} {
		msg := seal(b, a.Public(), opt)
		n++
		writeSeed(seeds, n, msg)
		n++
		writeSeed(seeds, n, msg[:len(msg)/2])
	}
	n++
	writeSeed(seeds, n, seal(a, a.Public(), crypto.SealOptions{})) // signed by test-a: unknown signer
	n++
	writeSeed(seeds, n, []byte("-----BEGIN PGP MESSAGE-----\n\nnot base64\n-----END PGP MESSAGE-----\n"))
	n++
	writeSeed(seeds, n, nil)
}

func loadSelf(dir, id string) *crypto.Self {
	s, err := crypto.LoadSelf(filepath.Join(dir, id+".secret.asc"), nil)
	if err != nil {
		log.Fatal(err)
	}
	return s
}

// seal seals Plaintext from self to the peer; from test-b to test-a it is
// accepted by FuzzOpen.
func seal(self *crypto.Self, to *crypto.Peer, opt crypto.SealOptions) []byte {
	var buf bytes.Buffer
	w, err := crypto.Seal(&buf, self, to, opt)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := w.Write([]byte(Plaintext)); err != nil {
		log.Fatal(err)
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	return buf.Bytes()
}

func writeSeed(dir string, n int, data []byte) {
	write(filepath.Join(dir, fmt.Sprintf("seed-%02d", n)), []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)))
}

func write(path string, data []byte) {
	if err := os.WriteFile(path, data, 0o644); err != nil {
		log.Fatal(err)
	}
}
