package crypto

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// gpgHome is a throw-away GnuPG home directory.
type gpgHome struct {
	dir string
}

// requireGPG skips the test when gpg is missing, or fails it under CI.
func requireGPG(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("gpg"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("gpg is required under CI: %v", err)
		}
		t.Skipf("gpg not installed: %v", err)
	}
}

// newGPGHome makes a GnuPG home under parent (kept short for the agent's
// socket path).
func newGPGHome(t testing.TB, parent string) *gpgHome {
	t.Helper()
	requireGPG(t)
	dir, err := os.MkdirTemp(parent, "gpg")
	if err != nil {
		t.Fatal(err)
	}
	return &gpgHome{dir: dir}
}

// close stops the home's gpg-agent.
func (g *gpgHome) close() {
	exec.Command("gpgconf", "--homedir", g.dir, "--kill", "all").Run()
}

// run runs gpg in batch mode with loopback pinentry; an empty passphrase is
// given unless args carry one.
func (g *gpgHome) run(stdin []byte, args ...string) (stdout []byte, stderr string, err error) {
	base := []string{"--homedir", g.dir, "--batch", "--no-tty", "--pinentry-mode", "loopback", "--trust-model", "always"}
	if !containsArg(args, "--passphrase") {
		base = append(base, "--passphrase", "")
	}
	cmd := exec.Command("gpg", append(base, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.Bytes(), errb.String(), err
}

// mustRun is run that fails the test on a non-zero exit.
func (g *gpgHome) mustRun(t testing.TB, stdin []byte, args ...string) []byte {
	t.Helper()
	out, stderr, err := g.run(stdin, args...)
	if err != nil {
		t.Fatalf("gpg %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return out
}

func containsArg(args []string, a string) bool {
	for _, x := range args {
		if x == a {
			return true
		}
	}
	return false
}

// genKey makes a key with gpg --quick-gen-key: "ed25519" (ed25519 primary
// and cv25519 subkey) or "rsa4096" (RSA primary plus an RSA encryption
// subkey). It returns the primary fingerprint, lowercase.
func (g *gpgHome) genKey(t testing.TB, uid, algo, passphrase string) string {
	t.Helper()
	pass := []string{"--passphrase", passphrase}
	switch algo {
	case "ed25519":
		g.mustRun(t, nil, append(pass, "--quick-gen-key", uid, "future-default", "default", "never")...)
	case "rsa4096":
		g.mustRun(t, nil, append(pass, "--quick-gen-key", uid, "rsa4096", "sign", "never")...)
	default:
		t.Fatalf("unknown algo %s", algo)
	}
	fp := g.fingerprint(t, uid)
	if algo == "rsa4096" {
		g.mustRun(t, nil, append(pass, "--quick-add-key", fp, "rsa4096", "encr", "never")...)
	}
	return fp
}

// fingerprint returns the primary fingerprint of the key matching uid.
func (g *gpgHome) fingerprint(t testing.TB, uid string) string {
	t.Helper()
	out := g.mustRun(t, nil, "--with-colons", "--list-keys", uid)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if f := strings.Split(sc.Text(), ":"); f[0] == "fpr" {
			return strings.ToLower(f[9])
		}
	}
	t.Fatalf("no key for %s", uid)
	return ""
}

// exportPublic writes the armoured public key of fp to a file and returns its path.
func (g *gpgHome) exportPublic(t testing.TB, fp string) string {
	t.Helper()
	path := filepath.Join(g.dir, fp+".public.asc")
	writeFile(t, path, g.mustRun(t, nil, "--armor", "--export", fp))
	return path
}

// status is gpg's --status-fd output.
type status []string

// has reports whether a status line starts with "[GNUPG:] " + prefix.
func (s status) has(prefix string) bool {
	_, ok := s.find(prefix)
	return ok
}

// find returns the fields of the first status line starting with prefix.
func (s status) find(prefix string) ([]string, bool) {
	for _, l := range s {
		if strings.HasPrefix(l, "[GNUPG:] "+prefix) {
			return strings.Fields(l)[1:], true
		}
	}
	return nil, false
}

// decrypt runs gpg --decrypt on msg and returns the plaintext and status lines.
func (g *gpgHome) decrypt(t testing.TB, msg []byte) ([]byte, status, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "plain.out") // one per call: tests share a home
	st, stderr, _ := g.run(msg, "--status-fd", "1", "--output", out, "--decrypt")
	plain, _ := os.ReadFile(out)
	return plain, strings.Split(strings.TrimSpace(string(st)), "\n"), stderr
}

// gpgWorld is a GnuPG home shared by the interop tests: partner keys made
// by gpg, and our own (go-made) public keys imported.
type gpgWorld struct {
	home              *gpgHome
	ed, rsa, other    string // gpg-made partner keys (fingerprints)
	edPath, rsaPath   string // their exported public keys
	protected         string // gpg-made key with a passphrase
	protectedSecret   string // its exported secret key file
	protectedPassword string
	us, usRSA         *party
}

var (
	worldOnce sync.Once
	world     *gpgWorld
)

// theGPGWorld builds the shared GnuPG home once per test binary.
func theGPGWorld(t testing.TB) *gpgWorld {
	t.Helper()
	requireGPG(t)
	us := cachedParty(t, "us-ed25519", KeyEd25519)
	usRSA := cachedParty(t, "us-rsa4096", KeyRSA4096)
	worldOnce.Do(func() {
		w := &gpgWorld{home: newGPGHome(t, fixtureDir), us: us, usRSA: usRSA, protectedPassword: "gpg secret 42"}
		g := w.home
		w.ed = g.genKey(t, "gpg-ed <gpg-ed@example.org>", "ed25519", "")
		w.rsa = g.genKey(t, "gpg-rsa <gpg-rsa@example.org>", "rsa4096", "")
		w.other = g.genKey(t, "gpg-other <gpg-other@example.org>", "ed25519", "")
		w.protected = g.genKey(t, "gpg-protected <gpg-protected@example.org>", "ed25519", w.protectedPassword)
		w.edPath, w.rsaPath = g.exportPublic(t, w.ed), g.exportPublic(t, w.rsa)
		w.protectedSecret = filepath.Join(g.dir, "protected.secret.asc")
		writeFile(t, w.protectedSecret, g.mustRun(t, nil, "--passphrase", w.protectedPassword,
			"--armor", "--export-secret-keys", w.protected))
		g.mustRun(t, nil, "--import", us.publicPath)
		g.mustRun(t, nil, "--import", usRSA.publicPath)
		world = w
	})
	if world == nil {
		t.Fatal("GnuPG test home could not be set up (see the first failure)")
	}
	return world
}
