package crypto

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/ecdh"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/sealpost/sealpost/internal/pgptest"
)

// userIDPacket is a user id packet of n bytes, with no signature: go-crypto
// reads it whole into memory before it finds no self-signature for it.
func userIDPacket(n int) []byte {
	var b bytes.Buffer
	b.Write([]byte{0xc0 | 13, 0xff, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
	b.Write(bytes.Repeat([]byte("A"), n))
	return b.Bytes()
}

// paddedKeyFile writes a new public key with a user id of pad bytes put
// right after its primary key, and returns the file's path and the key's
// fingerprint.
func paddedKeyFile(t *testing.T, pad int) (string, string) {
	t.Helper()
	e, err := pgptest.NewEntity("partner", "partner@example.org")
	if err != nil {
		t.Fatal(err)
	}
	var primary, whole bytes.Buffer
	if err := e.PrimaryKey.Serialize(&primary); err != nil {
		t.Fatal(err)
	}
	if err := e.Serialize(&whole); err != nil {
		t.Fatal(err)
	}
	data := append(append(primary.Bytes(), userIDPacket(pad)...), whole.Bytes()[primary.Len():]...)
	path := filepath.Join(t.TempDir(), "partner.public.gpg")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, fingerprint(e)
}

// TestKeyFileSizeBounded: a key file larger than maxKeyFile (a partner's
// key padded with one huge user id; it loaded before, at 221 MiB of
// allocations for 64 MiB) is refused by LoadPeer, CheckKeyFile and Inspect
// after reading at most maxKeyFile+1 bytes of it; a key padded to just
// under the bound still loads.
func TestKeyFileSizeBounded(t *testing.T) {
	huge, fp := paddedKeyFile(t, 64<<20)
	load := func(path string) error {
		_, err := LoadPeer(path, []string{fp})
		return err
	}
	inspect := func(path string) error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = Inspect(f)
		return err
	}
	check := func(path string) error {
		_, err := CheckKeyFile(path, nil)
		return err
	}
	for name, read := range map[string]func(string) error{"LoadPeer": load, "Inspect": inspect, "CheckKeyFile": check} {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := read(huge)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrKeyFileTooLarge) {
			t.Errorf("%s of a 64 MiB key file: %v; want ErrKeyFileTooLarge", name, err)
		}
		if alloc, limit := after.TotalAlloc-before.TotalAlloc, uint64(3*maxKeyFile*raceAllowance); alloc > limit {
			t.Errorf("%s of a 64 MiB key file allocated %d bytes; want at most %d", name, alloc, limit)
		}
	}
	under, fp := paddedKeyFile(t, maxKeyFile-64<<10)
	if _, err := LoadPeer(under, []string{fp}); err != nil {
		t.Errorf("a key file just under the bound: %v", err)
	}
}

// withSubkeys returns the path of a new key holding n more encryption
// subkeys, each a distinct key bound by its primary, and its fingerprint.
func withSubkeys(t *testing.T, n int) (string, string) {
	t.Helper()
	e, err := pgptest.NewEntity("partner", "partner@example.org")
	if err != nil {
		t.Fatal(err)
	}
	sub := e.Subkeys[0].PublicKey
	for i := 1; i <= n; i++ {
		pk := packet.NewECDHPublicKey(sub.CreationTime.Add(-time.Duration(i)*time.Second), sub.PublicKey.(*ecdh.PublicKey))
		if err := pgptest.Bind(e, pk, pgptest.Flags{Encrypt: true}, nil); err != nil {
			t.Fatal(err)
		}
	}
	data, err := pgptest.Armor(e)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "partner.public.asc")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, fingerprint(e)
}

// TestKeyPartsBounded: a pinned key with more subkeys and self-signatures
// than maxKeyParts (verified on every Seal and Open: 16,500 subkeys in under
// 4 MiB cost 3.5 s of CPU per bundle) is refused at load; one with 100
// extra subkeys loads and is sealed to.
func TestKeyPartsBounded(t *testing.T) {
	t.Parallel()
	path, fp := withSubkeys(t, maxKeyParts)
	if _, err := LoadPeer(path, []string{fp}); !errors.Is(err, ErrKeyFileTooLarge) || !strings.Contains(err.Error(), fp) {
		t.Fatalf("LoadPeer of a key with %d subkeys: %v; want ErrKeyFileTooLarge naming the key", maxKeyParts+1, err)
	}
	other, _ := withSubkeys(t, maxKeyParts) // unpinned beside a pinned key: check and keys inspect report it, unexamined
	probs, err := CheckKeyFile(other, []string{strings.Repeat("0", 40)})
	if err != nil || len(probs) != 1 || !strings.Contains(probs[0].Reason, "more than 256") {
		t.Fatalf("CheckKeyFile of an unpinned key with %d subkeys: %v, %v; want one problem naming its size", maxKeyParts+1, probs, err)
	}
	path, fp = withSubkeys(t, 100)
	peer, err := LoadPeer(path, []string{fp})
	if err != nil {
		t.Fatalf("LoadPeer of a key with 101 subkeys: %v", err)
	}
	us := cachedParty(t, "us-parts", KeyEd25519)
	if msg := sealBytes(t, us.self, peer, SealOptions{}, []byte("x")); len(recipients(t, msg)) != 2 {
		t.Fatal("not sealed to the partner and us")
	}
}
