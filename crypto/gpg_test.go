package crypto

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// gpgPeer loads a gpg-made public key pinned to fp.
func gpgPeer(t testing.TB, path, fp string) *Peer {
	t.Helper()
	p, err := LoadPeer(path, []string{fp})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// checkGPGVerified asserts gpg decrypted msg with integrity protection and a
// valid SHA-256 signature by the key with primary fingerprint fp.
func checkGPGVerified(t testing.TB, st status, stderr, fp string) {
	t.Helper()
	for _, want := range []string{"DECRYPTION_OKAY", "GOODMDC", "GOODSIG"} {
		if !st.has(want) {
			t.Fatalf("gpg status lacks %s:\n%s\n%s", want, strings.Join(st, "\n"), stderr)
		}
	}
	if st.has("DECRYPTION_FAILED") || st.has("BADSIG") || st.has("ERRSIG") {
		t.Fatalf("gpg reports failure:\n%s", strings.Join(st, "\n"))
	}
	f, ok := st.find("VALIDSIG")
	if !ok {
		t.Fatalf("no VALIDSIG:\n%s", strings.Join(st, "\n"))
	}
	// VALIDSIG <fpr> <date> <ts> <expire> <ver> <reserved> <pkalgo> <hashalgo> <class> <primary-fpr>
	if primary := strings.ToLower(f[len(f)-1]); primary != fp {
		t.Fatalf("VALIDSIG by %s, want %s", primary, fp)
	}
	if f[8] != "8" {
		t.Fatalf("signature hash algorithm %s, want 8 (SHA-256)", f[8])
	}
}

func TestGPGOpensWhatWeSeal(t *testing.T) {
	t.Parallel()
	w := theGPGWorld(t)
	data := make([]byte, 200_000)
	rand.Read(data)
	senders := []*party{w.us, w.usRSA}
	recipients := map[string]string{w.ed: w.edPath, w.rsa: w.rsaPath}
	for _, us := range senders {
		for toFP, toPath := range recipients {
			for _, compress := range []bool{false, true} {
				for _, armored := range []bool{false, true} {
					name := fmt.Sprintf("from-%s/to-%s/zlib=%v/armor=%v", us.id, toFP[:8], compress, armored)
					t.Run(name, func(t *testing.T) {
						opt := SealOptions{Compress: compress, Armor: armored}
						msg := sealBytes(t, us.self, gpgPeer(t, toPath, toFP), opt, data)
						plain, st, stderr := w.home.decrypt(t, msg)
						checkGPGVerified(t, st, stderr, us.fp)
						if !bytes.Equal(plain, data) {
							t.Fatal("gpg's plaintext differs")
						}
					})
				}
			}
		}
	}
}

// gpgSignEncrypt makes a message with gpg signed by signer and encrypted to
// recipient (a fingerprint or user id), with extra options.
func gpgSignEncrypt(t testing.TB, g *gpgHome, signer, recipient string, data []byte, extra ...string) []byte {
	t.Helper()
	args := append([]string{"--local-user", signer, "--recipient", recipient}, extra...)
	args = append(args, "--sign", "--encrypt")
	return g.mustRun(t, data, args...)
}

func TestWeOpenWhatGPGMakes(t *testing.T) {
	t.Parallel()
	w := theGPGWorld(t)
	data := make([]byte, 150_000)
	rand.Read(data)
	data = append(data, bytes.Repeat([]byte("compressible "), 10_000)...)
	signers := map[string]string{w.ed: w.edPath, w.rsa: w.rsaPath}
	variants := map[string][]string{
		"z0":          {"-z", "0"},
		"default-z":   nil,
		"z0-armor":    {"-z", "0", "--armor"},
		"zlib-armor":  {"--compress-algo", "zlib", "--armor"},
		"bzip2":       {"--compress-algo", "bzip2"},
		"aes128":      {"--cipher-algo", "AES128"},
		"sha512-sign": {"--digest-algo", "SHA512"},
	}
	for _, us := range []*party{w.us, w.usRSA} {
		for signer, path := range signers {
			for vname, extra := range variants {
				t.Run(fmt.Sprintf("to-%s/from-%s/%s", us.id, signer[:8], vname), func(t *testing.T) {
					msg := gpgSignEncrypt(t, w.home, signer, us.fp, data, extra...)
					got, m, err := openBytes(msg, us.self, gpgPeer(t, path, signer), OpenOptions{MaxBytes: 1 << 20})
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, data) || m.Signer() != signer {
						t.Fatalf("plaintext equal %v, signer %s", bytes.Equal(got, data), m.Signer())
					}
				})
			}
		}
	}
}

// A secret key exported by gpg with a passphrase loads with it, and opens
// what gpg encrypts to it.
func TestGPGProtectedSecretKey(t *testing.T) {
	t.Parallel()
	w := theGPGWorld(t)
	if _, err := LoadSelf(w.protectedSecret, nil); err == nil {
		t.Fatal("protected key loaded without passphrase")
	}
	_, err := LoadSelf(w.protectedSecret, []byte("wrong"))
	if err == nil || !strings.Contains(err.Error(), w.protectedSecret) || strings.Contains(err.Error(), w.protectedPassword) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	self, err := LoadSelf(w.protectedSecret, []byte(w.protectedPassword))
	if err != nil {
		t.Fatal(err)
	}
	if self.Fingerprint() != w.protected {
		t.Fatalf("fingerprint %s, want %s", self.Fingerprint(), w.protected)
	}
	msg := gpgSignEncrypt(t, w.home, w.ed, w.protected, []byte("for the gpg-made key"), "--armor")
	got, _, err := openBytes(msg, self, gpgPeer(t, w.edPath, w.ed), OpenOptions{})
	if err != nil || string(got) != "for the gpg-made key" {
		t.Fatalf("open: %q, %v", got, err)
	}
	// And we can seal from it so that gpg verifies.
	sealed := sealBytes(t, self, gpgPeer(t, w.edPath, w.ed), SealOptions{}, []byte("reply"))
	_, st, stderr := w.home.decrypt(t, sealed)
	checkGPGVerified(t, st, stderr, w.protected)
}

func TestOpenRefusesGPGMessages(t *testing.T) {
	t.Parallel()
	w := theGPGWorld(t)
	g := w.home
	us := w.us
	data := bytes.Repeat([]byte("refuse me "), 5000)
	good := gpgSignEncrypt(t, g, w.ed, us.fp, data, "-z", "0")
	cases := []struct {
		name string
		msg  []byte
		want error
	}{
		{"encrypt only, unsigned", g.mustRun(t, data, "--recipient", us.fp, "--encrypt"), ErrUnsigned},
		{"sign only, not encrypted", g.mustRun(t, data, "--local-user", w.ed, "--sign"), ErrDecrypt},
		{"signed by an unpinned key", gpgSignEncrypt(t, g, w.other, us.fp, data), ErrUnknownSigner},
		{"encrypted to someone else", gpgSignEncrypt(t, g, w.ed, w.rsa, data), ErrDecrypt},
		{"no MDC (--rfc2440 --disable-mdc)", gpgSignEncrypt(t, g, w.ed, us.fp, data,
			"--rfc2440", "--cipher-algo", "AES256", "--disable-mdc"), ErrIntegrity},
		{"SHA-1 signature", gpgSignEncrypt(t, g, w.ed, us.fp, data,
			"--digest-algo", "SHA1", "--allow-weak-digest-algos"), ErrUnsigned},
		{"byte flipped", flip(good, len(good)/2), ErrIntegrity},
		{"truncated", good[:len(good)*2/3], ErrIntegrity},
		{"symmetric only", g.mustRun(t, data, "--passphrase", "x", "--symmetric"), ErrDecrypt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := openBytes(c.msg, us.self, gpgPeer(t, w.edPath, w.ed), OpenOptions{MaxBytes: 1 << 20})
			wantRefusal(t, err, c.want)
		})
	}
}

// A message signed by our own key is refused when opened as from a partner.
func TestOpenRefusesOwnSignatureFromPartner(t *testing.T) {
	t.Parallel()
	w := theGPGWorld(t)
	msg := sealBytes(t, w.us.self, w.us.self.Public(), SealOptions{}, []byte("me"))
	_, _, err := openBytes(msg, w.us.self, gpgPeer(t, w.edPath, w.ed), OpenOptions{})
	wantRefusal(t, err, ErrUnknownSigner)
}

func TestGPGVerifiesSignDetached(t *testing.T) {
	t.Parallel()
	w := theGPGWorld(t)
	for _, us := range []*party{w.us, w.usRSA} {
		t.Run(us.id, func(t *testing.T) {
			dir := t.TempDir()
			data := []byte("checkpoint: seq 42 sha256 abc\n")
			var sig bytes.Buffer
			if err := SignDetached(&sig, us.self, bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(sig.Bytes(), []byte("-----BEGIN PGP SIGNATURE-----")) {
				t.Fatalf("not armoured: %q", sig.Bytes()[:40])
			}
			dataPath, sigPath := filepath.Join(dir, "data"), filepath.Join(dir, "data.sig")
			writeFile(t, dataPath, data)
			writeFile(t, sigPath, sig.Bytes())
			out, stderr, _ := w.home.run(nil, "--status-fd", "1", "--verify", sigPath, dataPath)
			st := status(strings.Split(string(out), "\n"))
			f, ok := st.find("VALIDSIG")
			if !ok || strings.ToLower(f[len(f)-1]) != us.fp || f[8] != "8" {
				t.Fatalf("gpg --verify:\n%s\n%s", out, stderr)
			}
			writeFile(t, dataPath, append(data, '!'))
			out, _, _ = w.home.run(nil, "--status-fd", "1", "--verify", sigPath, dataPath)
			if !status(strings.Split(string(out), "\n")).has("BADSIG") {
				t.Fatalf("tampered data not BADSIG:\n%s", out)
			}
		})
	}
}

// Keys from GenerateKey import into gpg 2.2, which then decrypts with them.
func TestGPGUsesGeneratedKeys(t *testing.T) {
	t.Parallel()
	requireGPG(t)
	for _, algo := range []KeyAlgo{KeyEd25519, KeyRSA4096} {
		t.Run(string(algo), func(t *testing.T) {
			g := newGPGHome(t, fixtureDir)
			defer g.close()
			pass := "generated pass"
			p := newParty(t, t.TempDir(), "gen-"+string(algo), algo, []byte(pass))
			g.mustRun(t, nil, "--passphrase", pass, "--import", p.secretPath)
			if got := g.fingerprint(t, "sealpost"); got != p.fp {
				t.Fatalf("gpg sees %s, want %s", got, p.fp)
			}
			uid := g.mustRun(t, nil, "--with-colons", "--list-keys", p.fp)
			if !bytes.Contains(uid, []byte("sealpost <gen-"+string(algo)+">")) {
				t.Fatalf("user id missing:\n%s", uid)
			}
			msg := sealBytes(t, p.self, p.self.Public(), SealOptions{}, []byte("to myself"))
			_, stderr, err := g.run(msg, "--passphrase", pass, "--status-fd", "1", "--output", filepath.Join(g.dir, "out"), "--decrypt")
			if err != nil {
				t.Fatalf("gpg cannot decrypt with the generated key: %v\n%s", err, stderr)
			}
			got, _ := os.ReadFile(filepath.Join(g.dir, "out"))
			if string(got) != "to myself" {
				t.Fatalf("gpg plaintext %q", got)
			}
		})
	}
}
