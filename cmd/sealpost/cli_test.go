package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/sealpost/sealpost/crypto"
	"github.com/sealpost/sealpost/exchange/audit"
	"github.com/sealpost/sealpost/exchange/bundle"
	"github.com/sealpost/sealpost/internal/pgptest"
	"github.com/sealpost/sealpost/internal/sftpd"
	"github.com/sealpost/sealpost/internal/testworld"
)

// binary is the sealpost command built once by TestMain.
var binary string

// TestMain makes the test binary answer as the sealpost command when the
// scripts of testdata/script run it (testscript.Main), and otherwise builds
// the binary once for the tests that signal or time a real process.
func TestMain(m *testing.M) {
	testscript.Main(withBinary{m}, map[string]func(){"sealpost": main})
}

// withBinary runs the tests with the sealpost binary built.
type withBinary struct{ m *testing.M }

func (w withBinary) Run() int {
	dir, err := os.MkdirTemp("", "sealpost-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "sealpost")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		return 1
	}
	return w.m.Run()
}

const (
	us = "us-cbp"
	uk = "uk-hmrc"
)

// result is what one command line did.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// sealpost runs a command line in-process through run.
func sealpost(t *testing.T, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), args, &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

// sealpostBin runs the built binary.
func sealpostBin(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("run %s: %v", binary, err)
		}
		code = ee.ExitCode()
	}
	return result{code, stdout.String(), stderr.String()}
}

// want fails unless r exited with code.
func (r result) want(t *testing.T, code int) result {
	t.Helper()
	if r.code != code {
		t.Fatalf("want exit %d, got %s", code, r)
	}
	return r
}

// wantError checks that r exited with code and that stderr holds an error
// line "sealpost: error: ..." containing each of parts. Every line of
// stderr that is not an operator log line must start with "sealpost: error: "
// or "sealpost: hint: ", and each error is a single line.
func (r result) wantError(t *testing.T, code int, parts ...string) result {
	t.Helper()
	r.want(t, code)
	var errLines []string
	for _, line := range strings.Split(strings.TrimRight(r.stderr, "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "sealpost: error: "):
			errLines = append(errLines, line)
		case strings.HasPrefix(line, "sealpost: hint: "), strings.HasPrefix(line, "time="):
		default:
			t.Fatalf("stderr line %q is neither an error, a hint nor a log line:\n%s", line, r)
		}
	}
	if len(errLines) == 0 {
		t.Fatalf("no 'sealpost: error: ' line:\n%s", r)
	}
	for _, p := range parts {
		found := false
		for _, l := range errLines {
			if strings.Contains(l, p) {
				found = true
			}
		}
		if !found {
			t.Fatalf("no error line contains %q:\n%s", p, r)
		}
	}
	return r
}

// party is one side of a test world: its keys and configuration on disk.
type party struct {
	id      string
	dir     string
	cfgPath string
	fp      string
}

func (p *party) state(parts ...string) string {
	return filepath.Join(append([]string{p.dir, "state"}, parts...)...)
}

// cli runs a command line with this party's configuration.
func (p *party) cli(t *testing.T, args ...string) result {
	t.Helper()
	return sealpost(t, append([]string{"--config", p.cfgPath}, args...)...)
}

// cliWorld is two parties exchanging over an in-process SFTP server.
type cliWorld struct {
	srv     *sftpd.Server
	parties map[string]*party
}

// newCLIWorld writes keys and configurations for us and uk
// (testworld.New). extra is appended to each partner block (already
// indented).
func newCLIWorld(t *testing.T, extra string) *cliWorld {
	t.Helper()
	srv, err := sftpd.Start(t.TempDir(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	w := &cliWorld{srv: srv, parties: map[string]*party{}}
	unindented := strings.ReplaceAll("\n"+extra, "\n    ", "\n")[1:]
	parties := testworld.New(t, testworld.Server{Addr: srv.Addr, User: "sealpost", ClientKey: srv.ClientKey,
		KnownHosts: srv.KnownHosts, Root: srv.Root}, testworld.Options{Extra: unindented}, us, uk)
	for id, p := range parties {
		w.parties[id] = &party{id: id, dir: p.Dir, cfgPath: p.Config, fp: p.Fingerprint}
	}
	return w
}

// drop lists the server folder from → to.
func (w *cliWorld) drop(t *testing.T, from, to string) []string {
	return names(t, filepath.Join(w.srv.Root, from+"-to-"+to))
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	must(t, os.MkdirAll(filepath.Dir(p), 0o700))
	must(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

// events returns the events of a party's exchange log, in order.
func events(t *testing.T, p *party) []string {
	t.Helper()
	var out []string
	err := audit.Scan(p.state("audit"), func(r audit.Record) error {
		out = append(out, r.Event)
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}

func TestUsageErrors(t *testing.T) {
	w := newCLIWorld(t, "")
	cfg := w.parties[us].cfgPath
	file := writeFile(t, t.TempDir(), "a.txt", "hello")
	sealed := filepath.Join(t.TempDir(), "sealed.pgp")
	long := strings.Repeat("x", bundle.MaxReference+1)
	for _, tc := range []struct {
		name  string
		args  []string
		parts []string
	}{
		{"unknown command", []string{"--config", cfg, "frobnicate"}, []string{`unknown command "frobnicate"`}},
		{"send without --to", []string{"--config", cfg, "send", file}, []string{"--to"}},
		{"seal without --to", []string{"--config", cfg, "bundle", "seal", file}, []string{"--to"}},
		{"push-only and pull-only", []string{"--config", cfg, "run", "--push-only", "--pull-only"}, []string{"--push-only and --pull-only"}},
		{"unknown partner for run", []string{"--config", cfg, "run", "--partner", "fr-dgddi"}, []string{"fr-dgddi"}},
		{"unknown partner for send", []string{"--config", cfg, "send", "--to", "fr-dgddi", file}, []string{"fr-dgddi"}},
		{"unknown partner for status", []string{"--config", cfg, "status", "--partner", "fr-dgddi"}, []string{"fr-dgddi"}},
		{"reply-to not an id", []string{"--config", cfg, "send", "--to", uk, "--reply-to", "CASE-1", file}, []string{"CASE-1"}},
		{"ref too long for send", []string{"--config", cfg, "send", "--to", uk, "--ref", long, file}, []string{"--ref is 1025 bytes, more than 1024"}},
		{"send without PATH", []string{"--config", cfg, "send", "--to", uk}, []string{"at least one PATH"}},
		{"reply-to not an id for seal", []string{"--config", cfg, "bundle", "seal", "--to", uk, "--reply-to", "CASE-1", "-o", sealed, file}, []string{`--reply-to "CASE-1" is not a bundle id`}},
		{"ref too long for seal", []string{"--config", cfg, "bundle", "seal", "--to", uk, "--ref", long, "-o", sealed, file}, []string{"--ref is 1025 bytes, more than 1024"}},
		{"seal without PATH", []string{"--config", cfg, "bundle", "seal", "--to", uk, "-o", sealed}, []string{"at least one PATH"}},
		{"send a missing file", []string{"--config", cfg, "send", "--to", uk, filepath.Join(t.TempDir(), "nope.pdf")}, []string{"nope.pdf"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sealpost(t, tc.args...).wantError(t, 2, tc.parts...)
		})
	}
	// Nothing was queued or sealed by any of them.
	if got := names(t, w.parties[us].state("outbox", uk)); len(got) != 0 {
		t.Fatalf("outbox holds %v after usage errors", got)
	}
	if got := names(t, filepath.Dir(sealed)); len(got) != 0 {
		t.Fatalf("bundle seal left %v after usage errors", got)
	}
	t.Run("unknown flag", func(t *testing.T) {
		// The flag package prints its own complaint and the command's
		// usage first; the last lines are ours.
		r := sealpost(t, "--config", cfg, "run", "--sideways").want(t, 2)
		if !strings.Contains(r.stderr, "sealpost: error: run: flag provided but not defined: -sideways\n") {
			t.Fatalf("no error line naming the flag:\n%s", r)
		}
	})
	t.Run("no command", func(t *testing.T) {
		if r := sealpost(t); r.code != 2 || !strings.Contains(r.stderr, "usage: sealpost") {
			t.Fatalf("want exit 2 and usage, got %s", r)
		}
	})
	t.Run("help", func(t *testing.T) {
		if r := sealpost(t, "help"); r.code != 0 || !strings.Contains(r.stdout, "commands:") {
			t.Fatalf("want exit 0 and the command list, got %s", r)
		}
	})
}

func TestConfigErrors(t *testing.T) {
	t.Run("unknown key names file and line", func(t *testing.T) {
		w := newCLIWorld(t, "    colour: blue\n")
		p := w.parties[us]
		data, err := os.ReadFile(p.cfgPath)
		must(t, err)
		line := 0
		for i, l := range strings.Split(string(data), "\n") {
			if strings.Contains(l, "colour:") {
				line = i + 1
			}
		}
		r := p.cli(t, "status").wantError(t, 2, fmt.Sprintf("sealpost.yaml:%d", line), "colour")
		if len(names(t, p.state())) != 0 {
			t.Fatalf("state created despite a configuration error:\n%s", r)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "nope.yaml")
		sealpost(t, "--config", missing, "run").wantError(t, 2, "nope.yaml")
	})
	t.Run("missing file from SEALPOST_CONFIG", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "env.yaml")
		t.Setenv("SEALPOST_CONFIG", missing)
		sealpost(t, "status").wantError(t, 2, "env.yaml")
	})
	t.Run("no configuration at all", func(t *testing.T) {
		t.Setenv("SEALPOST_CONFIG", "")
		t.Chdir(t.TempDir())
		sealpost(t, "status").wantError(t, 2, "sealpost.yaml")
	})
	t.Run("secret key readable by others", func(t *testing.T) {
		w := newCLIWorld(t, "")
		p := w.parties[us]
		key := filepath.Join(p.dir, "keys", us+".secret.asc")
		must(t, os.Chmod(key, 0o644))
		p.cli(t, "status").wantError(t, 2, key, "too open")
		p.cli(t, "run").wantError(t, 2, "too open")
	})
	t.Run("ssh key readable by others", func(t *testing.T) {
		w := newCLIWorld(t, "")
		must(t, os.Chmod(w.srv.ClientKey, 0o644))
		w.parties[us].cli(t, "run").wantError(t, 2, w.srv.ClientKey, "too open")
	})
	t.Run("partner public key without the pinned fingerprint", func(t *testing.T) {
		w := newCLIWorld(t, "")
		p := w.parties[us]
		_, other, _, err := crypto.GenerateKey("someone", crypto.KeyEd25519, nil)
		must(t, err)
		must(t, os.WriteFile(filepath.Join(filepath.Dir(p.dir), uk+".public.asc"), other, 0o644))
		p.cli(t, "status").wantError(t, 2, "partners."+uk+".public_key")
	})
}

// TestLocked takes a partner's lock as another run would and checks that
// `run` exits 3 and does nothing.
func TestLocked(t *testing.T) {
	w := newCLIWorld(t, "")
	p := w.parties[us]
	p.cli(t, "send", "--to", uk, writeFile(t, t.TempDir(), "a.txt", "hello")).want(t, 0)
	before := events(t, p)

	lock := p.state("locks", uk+".lock")
	f, err := os.OpenFile(lock, os.O_RDWR|os.O_CREATE, 0o600)
	must(t, err)
	defer f.Close()
	must(t, syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB))

	p.cli(t, "run", "--partner", uk).wantError(t, 3, uk)
	p.cli(t, "run").wantError(t, 3)
	// The binary too: another process.
	sealpostBin(t, "--config", p.cfgPath, "run", "--partner", uk).wantError(t, 3, uk)

	if got := names(t, p.state("outbox", uk)); len(got) != 1 {
		t.Fatalf("outbox holds %v, want the one queued item", got)
	}
	if got := names(t, p.state("sent", uk)); len(got) != 0 {
		t.Fatalf("sent/ holds %v while locked out", got)
	}
	if got := w.drop(t, us, uk); len(got) != 0 {
		t.Fatalf("drop holds %v while locked out", got)
	}
	if after := events(t, p); len(after) != len(before) {
		t.Fatalf("exchange log grew while locked out: %v → %v", before, after)
	}

	must(t, syscall.Flock(int(f.Fd()), syscall.LOCK_UN))
	p.cli(t, "run", "--partner", uk).want(t, 0)
	if got := w.drop(t, us, uk); len(got) != 1 {
		t.Fatalf("drop holds %v after the lock was released, want one bundle", got)
	}
}

// TestKeysGenerateIgnoresPlantedLinks: in an output folder others may
// write to, a symbolic link planted at the temporary name keys generate
// used to write through (".ID.secret.asc.tmp") never receives the secret
// key, and a link planted at the key's own name, even a dangling one, makes
// generate refuse without creating the link's target.
func TestKeysGenerateIgnoresPlantedLinks(t *testing.T) {
	dir := t.TempDir()
	must(t, os.Chmod(dir, 0o777|os.ModeSticky)) // as /tmp: 0o1777 would lose the sticky bit in os.Chmod
	stolen := filepath.Join(t.TempDir(), "stolen")
	must(t, os.WriteFile(stolen, nil, 0o666))
	for _, name := range []string{"." + us + ".secret.asc.tmp", "." + us + ".public.asc.tmp"} {
		must(t, os.Symlink(stolen, filepath.Join(dir, name)))
	}
	sealpost(t, "keys", "generate", "--id", us, "--out", dir).want(t, 0)
	if data, _ := os.ReadFile(stolen); len(data) != 0 {
		t.Fatalf("the planted link's target received %d bytes of the new key", len(data))
	}
	if fi, err := os.Lstat(filepath.Join(dir, us+".secret.asc")); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret key file: %v, %v; want a regular file mode 0600", fi, err)
	}

	dangling := filepath.Join(t.TempDir(), "appears-later")
	must(t, os.Symlink(dangling, filepath.Join(dir, uk+".secret.asc")))
	sealpost(t, "keys", "generate", "--id", uk, "--out", dir).wantError(t, 2, "overwrite")
	if _, err := os.Lstat(dangling); err == nil {
		t.Fatal("generate wrote the key through a dangling link")
	}
}

// TestKeysGeneratePassphraseFileJudgedOnTheOpenFile: keys generate reads
// --passphrase-file as the configuration's passphrase_file: a named pipe is
// refused at once (it used to block), and, as root, a file owned by another
// user is refused naming its owner and the chown.
func TestKeysGeneratePassphraseFileJudgedOnTheOpenFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	must(t, syscall.Mkfifo(fifo, 0o600))
	sealpost(t, "keys", "generate", "--id", us, "--out", filepath.Join(dir, "k1"), "--passphrase-file", fifo).wantError(t, 2, "not a regular file")
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("giving a file to another user needs root (CI must run the tests as root)")
		}
		t.Skip("giving a file to another user needs root (run as root, as CI does)")
	}
	pass := filepath.Join(dir, "pass")
	must(t, os.WriteFile(pass, []byte("right horse battery\n"), 0o600))
	must(t, os.Chown(pass, 65534, 65534))
	sealpost(t, "keys", "generate", "--id", us, "--out", filepath.Join(dir, "k2"), "--passphrase-file", pass).wantError(t, 2, "run chown root "+pass)
}

var fingerprintRE = regexp.MustCompile(`(?m)^fingerprint ([0-9A-Fa-f]{40}|[0-9A-Fa-f]{64})$`)

func TestKeys(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	r := sealpost(t, "keys", "generate", "--id", us, "--out", dir).want(t, 0)
	m := fingerprintRE.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no fingerprint line in:\n%s", r)
	}
	fp := m[1]
	secret, public := filepath.Join(dir, us+".secret.asc"), filepath.Join(dir, us+".public.asc")
	for path, mode := range map[string]os.FileMode{secret: 0o600, public: 0o644} {
		fi, err := os.Stat(path)
		must(t, err)
		if fi.Mode().Perm() != mode {
			t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), mode)
		}
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("key folder %s: %v, mode %v; want no access for group and others", dir, err, fi.Mode().Perm())
	}
	data, err := os.ReadFile(secret)
	must(t, err)
	if !bytes.Contains(data, []byte("BEGIN PGP PRIVATE KEY BLOCK")) {
		t.Errorf("%s is not an armoured secret key", secret)
	}
	for _, f := range []string{secret, public} {
		r := sealpost(t, "keys", "inspect", f).want(t, 0)
		if !strings.Contains(strings.ToUpper(r.stdout), strings.ToUpper(fp)) {
			t.Errorf("keys inspect %s does not print fingerprint %s:\n%s", f, fp, r)
		}
	}

	// A second generate refuses to overwrite, and leaves the key alone.
	sealpost(t, "keys", "generate", "--id", us, "--out", dir).wantError(t, 2, "overwrite")
	again, err := os.ReadFile(secret)
	must(t, err)
	if !bytes.Equal(data, again) {
		t.Fatal("the secret key changed after a refused generate")
	}

	sealpost(t, "keys", "generate", "--id", "Not_An_Id", "--out", t.TempDir()).wantError(t, 2, "Not_An_Id")
	sealpost(t, "keys", "inspect", filepath.Join(t.TempDir(), "nope.asc")).wantError(t, 2, "nope.asc")
	junk := writeFile(t, t.TempDir(), "junk.asc", "not a key")
	sealpost(t, "keys", "inspect", junk).wantError(t, 2, "junk.asc")
}

func TestBundleSealOpen(t *testing.T) {
	w := newCLIWorld(t, "")
	src := t.TempDir()
	a := writeFile(t, src, "request.txt", "please send the records")
	writeFile(t, src, "scans/p1.txt", "page 1")
	out := filepath.Join(t.TempDir(), "case7.pgp")
	r := w.parties[us].cli(t, "bundle", "seal", "--to", uk, "--ref", "CASE-7", "-o", out, a, filepath.Join(src, "scans")).want(t, 0)
	if !strings.Contains(r.stdout, out) {
		t.Fatalf("seal does not name its output:\n%s", r)
	}

	dst := filepath.Join(t.TempDir(), "opened")
	r = w.parties[uk].cli(t, "bundle", "open", "--from", us, "-o", dst, out).want(t, 0)
	if !strings.Contains(r.stdout, "CASE-7") {
		t.Fatalf("open does not print the reference:\n%s", r)
	}
	for name, want := range map[string]string{"payload/request.txt": "please send the records", "payload/scans/p1.txt": "page 1"} {
		got, err := os.ReadFile(filepath.Join(dst, name))
		if err != nil || string(got) != want {
			t.Fatalf("%s: %q, %v; want %q", name, got, err, want)
		}
	}
	var m struct {
		Sender, Recipient, Kind, Reference string
	}
	data, err := os.ReadFile(filepath.Join(dst, "manifest.json"))
	must(t, err)
	must(t, json.Unmarshal(data, &m))
	if m.Sender != us || m.Recipient != uk || m.Kind != "request" || m.Reference != "CASE-7" {
		t.Fatalf("manifest %+v", m)
	}

	// Without -o the bundle gets its drop name, from which open takes the sender.
	wd := t.TempDir()
	t.Chdir(wd)
	w.parties[us].cli(t, "bundle", "seal", "--to", uk, a).want(t, 0)
	made := names(t, wd)
	if len(made) != 1 || !regexp.MustCompile(`^us-cbp_uk-hmrc_request_[0-9a-f-]{36}\.pgp$`).MatchString(made[0]) {
		t.Fatalf("seal without -o made %v", made)
	}
	w.parties[uk].cli(t, "bundle", "open", "-o", filepath.Join(t.TempDir(), "x"), made[0]).want(t, 0)

	// The sender cannot open what it sealed for the partner as if it came from the partner.
	w.parties[us].cli(t, "bundle", "open", "--from", uk, "-o", filepath.Join(t.TempDir(), "y"), out).wantError(t, 1, "refused")

	// A tampered file is refused (exit 1) and nothing is left in the output folder.
	data, err = os.ReadFile(out)
	must(t, err)
	data[len(data)/2] ^= 0x40
	bad := filepath.Join(t.TempDir(), "tampered.pgp")
	must(t, os.WriteFile(bad, data, 0o600))
	dst2 := filepath.Join(t.TempDir(), "tampered")
	w.parties[uk].cli(t, "bundle", "open", "--from", us, "-o", dst2, bad).wantError(t, 1, "refused", "tampered.pgp")
	if got := names(t, dst2); len(got) != 0 {
		t.Fatalf("a refused bundle left %v in the output folder", got)
	}

	// Opening into a folder that is not empty is a usage error.
	w.parties[uk].cli(t, "bundle", "open", "--from", us, "-o", dst, out).wantError(t, 2, "not empty")
}

func TestSendStatusRun(t *testing.T) {
	w := newCLIWorld(t, "")
	p := w.parties[us]
	file := writeFile(t, t.TempDir(), "request.pdf", "%PDF")
	r := p.cli(t, "send", "--to", uk, "--ref", "CASE-2026-0042", file).want(t, 0)
	if !strings.Contains(r.stdout, "queued") {
		t.Fatalf("send says:\n%s", r)
	}
	status := func() []map[string]any {
		t.Helper()
		r := p.cli(t, "status", "--json").want(t, 0)
		var sts []map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &sts); err != nil {
			t.Fatalf("status --json: %v\n%s", err, r)
		}
		if len(sts) != 1 || sts[0]["partner"] != uk {
			t.Fatalf("status --json: %s", r.stdout)
		}
		return sts
	}
	if st := status()[0]; st["outbox"] != 1.0 {
		t.Fatalf("outbox %v after one send, want 1: %v", st["outbox"], st)
	}
	p.cli(t, "status").want(t, 0)

	p.cli(t, "run", "--pull-only").want(t, 0)
	if st := status()[0]; st["outbox"] != 1.0 {
		t.Fatalf("--pull-only pushed the outbox: %v", st)
	}
	r = p.cli(t, "run", "--push-only").want(t, 0)
	if !strings.Contains(r.stdout, "pushed 1") {
		t.Fatalf("run says:\n%s", r)
	}
	st := status()[0]
	awaiting, _ := st["awaiting_receipt"].([]any)
	if st["outbox"] != 0.0 || len(awaiting) != 1 {
		t.Fatalf("after the push: %v; want an empty outbox and one bundle awaiting a receipt", st)
	}
	if got := w.drop(t, us, uk); len(got) != 1 || !strings.HasSuffix(got[0], ".pgp") {
		t.Fatalf("drop holds %v", got)
	}

	// The partner files it and answers with a receipt; our next run reads it.
	w.parties[uk].cli(t, "run").want(t, 0)
	p.cli(t, "run").want(t, 0)
	st = status()[0]
	awaiting, _ = st["awaiting_receipt"].([]any)
	if len(awaiting) != 0 {
		t.Fatalf("still awaiting a receipt after it came: %v", st)
	}
	p.cli(t, "audit", "verify").want(t, 0)
}

func TestAuditVerifyBroken(t *testing.T) {
	w := newCLIWorld(t, "")
	p := w.parties[us]
	for _, n := range []string{"a.txt", "b.txt", "c.txt"} {
		p.cli(t, "send", "--to", uk, writeFile(t, t.TempDir(), n, n)).want(t, 0)
	}
	r := p.cli(t, "audit", "verify").want(t, 0)
	if !strings.Contains(r.stdout, "OK") {
		t.Fatalf("audit verify says:\n%s", r)
	}
	path := p.state("audit", "exchange.jsonl")
	data, err := os.ReadFile(path)
	must(t, err)
	lines := strings.SplitAfter(string(data), "\n")
	if len(lines) < 3 {
		t.Fatalf("log has %d lines", len(lines))
	}
	// Edit line 2 (a.txt → z.txt keeps the length): line 3's prev no longer holds.
	edited := strings.Replace(lines[1], "b.txt", "z.txt", 1)
	if edited == lines[1] {
		t.Fatalf("line 2 does not name b.txt: %s", lines[1])
	}
	lines[1] = edited
	must(t, os.WriteFile(path, []byte(strings.Join(lines, "")), 0o600))
	p.cli(t, "audit", "verify").wantError(t, 1, "exchange.jsonl:3")

	// A line that is not JSON is named itself.
	lines[0] = "garbage\n"
	must(t, os.WriteFile(path, []byte(strings.Join(lines, "")), 0o600))
	p.cli(t, "audit", "verify").wantError(t, 1, "exchange.jsonl:1")
	sealpost(t, "audit", "verify", "--dir", p.state("audit")).wantError(t, 1, "exchange.jsonl:1")
}

// TestHostKeyMismatch points a partner at the server with a known_hosts
// naming another key: exit 1 with a hint, nothing uploaded.
func TestHostKeyMismatch(t *testing.T) {
	w := newCLIWorld(t, "")
	p := w.parties[us]
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	must(t, err)
	spub, err := ssh.NewPublicKey(pub)
	must(t, err)
	line := knownhosts.Line([]string{knownhosts.Normalize(w.srv.Addr)}, spub)
	must(t, os.WriteFile(w.srv.KnownHosts, []byte(line+"\n"), 0o644))

	p.cli(t, "send", "--to", uk, writeFile(t, t.TempDir(), "a.txt", "hello")).want(t, 0)
	start := time.Now()
	r := p.cli(t, "run", "--partner", uk).wantError(t, 1, uk)
	if !strings.Contains(r.stderr, "\nsealpost: hint: ") && !strings.HasPrefix(r.stderr, "sealpost: hint: ") {
		t.Fatalf("no hint for a host key mismatch:\n%s", r)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("a host key mismatch took %v: it must not be retried", d)
	}
	if got := w.drop(t, us, uk); len(got) != 0 {
		t.Fatalf("drop holds %v after a host key mismatch", got)
	}
	// The item stays in the outbox (an unreachable partner claims
	// nothing), and nothing was sealed into sent/ as if it had gone.
	r = p.cli(t, "status", "--json").want(t, 0)
	var sts []struct {
		Outbox    int    `json:"outbox"`
		InFlight  int    `json:"in_flight"`
		LastError string `json:"last_error"`
	}
	must(t, json.Unmarshal([]byte(r.stdout), &sts))
	if len(sts) != 1 || sts[0].Outbox != 1 || sts[0].InFlight != 0 || sts[0].LastError == "" {
		t.Fatalf("status after a host key mismatch: %+v; want the item still in the outbox and the error", sts)
	}
	if got := names(t, p.state("sent", uk)); len(got) != 0 {
		t.Fatalf("sent/ holds %v after a host key mismatch", got)
	}
	// With the right known_hosts line the same item goes.
	must(t, os.WriteFile(w.srv.KnownHosts, []byte(w.srv.HostKeyLine+"\n"), 0o644))
	p.cli(t, "run", "--partner", uk).want(t, 0)
	if got := w.drop(t, us, uk); len(got) != 1 {
		t.Fatalf("drop holds %v after the host key was fixed", got)
	}
}

func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("demo in -short mode")
	}
	r := sealpostBin(t, "demo").want(t, 0)
	if !strings.Contains(r.stdout, "Demo complete") {
		t.Fatalf("demo does not say it completed:\n%s", r)
	}
}

// TestDemoKeepRefusesAFolderOthersCanWrite: demo --keep writes keys under
// fixed names, so it refuses a folder others may write to (they could have
// planted links there) and a folder that is not empty, and writes nothing.
func TestDemoKeepRefusesAFolderOthersCanWrite(t *testing.T) {
	open := t.TempDir()
	must(t, os.Chmod(open, 0o777|os.ModeSticky))
	full := t.TempDir()
	stolen := filepath.Join(t.TempDir(), "stolen")
	must(t, os.Symlink(stolen, filepath.Join(full, "us-cbp")))
	for dir, want := range map[string]string{open: "others cannot write", full: "not empty"} {
		sealpost(t, "demo", "--keep", dir).wantError(t, 2, want)
	}
	if ents, _ := os.ReadDir(open); len(ents) != 0 {
		t.Fatalf("demo wrote %v into a folder others can write to", ents)
	}
	if _, err := os.Lstat(stolen); err == nil {
		t.Fatal("demo wrote through a planted link")
	}
}

// TestLoginRefused uses an SSH key the server does not know: exit 1 with a
// hint about authorizing the key.
func TestLoginRefused(t *testing.T) {
	w := newCLIWorld(t, "")
	p := w.parties[us]
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	must(t, err)
	block, err := ssh.MarshalPrivateKey(priv, "stranger")
	must(t, err)
	must(t, os.WriteFile(w.srv.ClientKey, pemEncode(block), 0o600))
	r := p.cli(t, "run", "--partner", uk).wantError(t, 1, uk)
	if !strings.Contains(r.stderr, "sealpost: hint: ") {
		t.Fatalf("no hint for a refused login:\n%s", r)
	}
}

// TestRunRefusedExit1 leaves a file that is no bundle on our pull folder:
// the run quarantines it and exits 1.
func TestRunRefusedExit1(t *testing.T) {
	w := newCLIWorld(t, "")
	p := w.parties[us]
	name := "uk-hmrc_us-cbp_request_0193b2c4-6d2e-7c1a-9f00-3b1c2d4e5f60.pgp"
	must(t, os.WriteFile(filepath.Join(w.srv.Root, uk+"-to-"+us, name), []byte("not openpgp"), 0o644))
	p.cli(t, "run").wantError(t, 1, "refused")
	if got := names(t, p.state("quarantine", uk)); len(got) != 2 {
		t.Fatalf("quarantine holds %v, want the file and its reason", got)
	}
	if got := w.drop(t, uk, us); len(got) != 0 {
		t.Fatalf("the refused file is still on the drop: %v", got)
	}
	// The rejected receipt went to the partner.
	if got := w.drop(t, us, uk); len(got) != 1 || !strings.Contains(got[0], "_receipt_") {
		t.Fatalf("drop to the partner holds %v, want a receipt", got)
	}
	p.cli(t, "audit", "verify").want(t, 0)
}

// TestDefaultConfig finds the configuration through $SEALPOST_CONFIG and
// then ./sealpost.yaml.
func TestDefaultConfig(t *testing.T) {
	w := newCLIWorld(t, "")
	p := w.parties[us]
	t.Setenv("SEALPOST_CONFIG", p.cfgPath)
	t.Chdir(t.TempDir())
	sealpost(t, "status").want(t, 0)
	t.Setenv("SEALPOST_CONFIG", "")
	t.Chdir(p.dir)
	if r := sealpost(t, "status").want(t, 0); !strings.Contains(r.stdout, uk) {
		t.Fatalf("status with ./sealpost.yaml:\n%s", r)
	}
}

func pemEncode(b *pem.Block) []byte { return pem.EncodeToMemory(b) }

// Issue 10 item 1: keys inspect fails, naming the file, the key and why, on
// a key file holding the partner's primary key also as a subkey of an
// attacker's entity (even unpinned), and, against the pins (--pin, or the
// configuration's for the partner whose public_key it is), on an extra
// entity that could encrypt or sign.
func TestKeysInspectHostileKeyFile(t *testing.T) {
	w := newCLIWorld(t, "")
	ukFile := filepath.Join(filepath.Dir(w.parties[uk].dir), uk+".public.asc")
	genuine, err := os.ReadFile(ukFile)
	must(t, err)
	ukFP := w.parties[uk].fp
	attack, x, err := pgptest.Hijack(genuine, pgptest.Flags{Sign: true})
	must(t, err)
	xFP := fmt.Sprintf("%x", x.PrimaryKey.Fingerprint)
	hijacked := writeFile(t, t.TempDir(), "hijacked.asc", string(genuine)+string(attack))

	r := sealpost(t, "keys", "inspect", hijacked).wantError(t, 1, hijacked, "key "+ukFP, "occurs 2 times")
	if strings.Contains(r.stdout, "To trust it") {
		t.Fatalf("keys inspect suggests pinning keys of a hostile file:\n%s", r)
	}
	sealpost(t, "keys", "inspect", "--pin", ukFP, hijacked).wantError(t, 1, hijacked, "key "+xFP, "is not pinned but could encrypt and sign")

	other, err := pgptest.NewEntity("sealpost", uk)
	must(t, err)
	extra, err := pgptest.Armor(other)
	must(t, err)
	otherFP := fmt.Sprintf("%x", other.PrimaryKey.Fingerprint)
	sealpost(t, "keys", "inspect", "--pin", ukFP, writeFile(t, t.TempDir(), "extra.asc", string(extra)+string(genuine))).
		wantError(t, 1, "key "+otherFP, `"sealpost <uk-hmrc>"`)
	sealpost(t, "keys", "inspect", "--pin", ukFP, ukFile).want(t, 0)

	// The configured partner's file, checked against its pins.
	must(t, os.WriteFile(ukFile, append(extra, genuine...), 0o644))
	r = w.parties[us].cli(t, "keys", "inspect", ukFile).wantError(t, 1, ukFile, "key "+otherFP, "is not pinned")
	if !strings.Contains(r.stdout, "pinned for partner "+uk) {
		t.Fatalf("keys inspect does not say which pins it checked:\n%s", r)
	}
}

// TestStatusEscapesReferences: status prints a reference that holds
// invisible or control characters escaped, on one line, as what it is.
func TestStatusEscapesReferences(t *testing.T) {
	w := newCLIWorld(t, "")
	p := w.parties[us]
	ref := "CASE\u202egpj\u200b\u2060\ufeff\u00ad\x1b[2J"
	p.cli(t, "send", "--to", uk, "--ref", ref, writeFile(t, t.TempDir(), "a.txt", "alpha")).want(t, 0)
	p.cli(t, "run", "--push-only").want(t, 0)
	r := p.cli(t, "status").want(t, 0)
	if !strings.Contains(r.stdout, `CASE\u202egpj\u200b\u2060\ufeff\u00ad\x1b[2J`) {
		t.Errorf("status does not show the reference escaped:\n%s", r.stdout)
	}
	if strings.ContainsAny(r.stdout, "\u202e\u200b\u2060\ufeff\u00ad\x1b") {
		t.Errorf("status prints invisible characters raw:\n%+q", r.stdout)
	}
}

// TestErrorReportEscapes: an error that quotes a partner's text is printed
// one line per error, each escaped, so it cannot rewrite the terminal or
// hide characters.
func TestErrorReportEscapes(t *testing.T) {
	var out bytes.Buffer
	report(&out, fmt.Errorf("refused x\u202egpj.exe\nthen \x1b[2J\u200b"))
	want := "sealpost: error: refused x\\u202egpj.exe\nsealpost: error: then \\x1b[2J\\u200b\n"
	if out.String() != want {
		t.Errorf("report printed %+q, want %+q", out.String(), want)
	}
}

// TestKeysInspectEscapesUserIDs: a partner's key whose user id holds
// control and invisible characters is shown escaped.
func TestKeysInspectEscapesUserIDs(t *testing.T) {
	e, err := openpgp.NewEntity("x\u202egpj\u200b\x1b[2J", "", "", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	must(t, err)
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	must(t, err)
	must(t, e.Serialize(w))
	must(t, w.Close())
	path := writeFile(t, t.TempDir(), "hostile.public.asc", buf.String())
	r := sealpost(t, "keys", "inspect", path).want(t, 0)
	if !strings.Contains(r.stdout, `x\u202egpj\u200b\x1b[2J`) || strings.ContainsAny(r.stdout, "\u202e\u200b\x1b") {
		t.Errorf("keys inspect does not escape the user id:\n%+q", r.stdout)
	}
}

// TestBundleOpenEscapesReference: bundle open prints the partner's
// reference escaped, invisible marks included (which %q would leave).
func TestBundleOpenEscapesReference(t *testing.T) {
	w := newCLIWorld(t, "")
	out := filepath.Join(t.TempDir(), "b.pgp")
	a := writeFile(t, t.TempDir(), "a.txt", "alpha")
	w.parties[us].cli(t, "bundle", "seal", "--to", uk, "--ref", "CASE\u202e\ufe0f\u034f", "-o", out, a).want(t, 0)
	r := w.parties[uk].cli(t, "bundle", "open", "--from", us, "-o", filepath.Join(t.TempDir(), "o"), out).want(t, 0)
	if !strings.Contains(r.stdout, `CASE\u202e\ufe0f\u034f`) || strings.ContainsAny(r.stdout, "\u202e\ufe0f\u034f") {
		t.Errorf("bundle open does not escape the reference:\n%+q", r.stdout)
	}
}

// TestKeysGenerateIntoAFolderOthersControl: keys generate refuses an --out
// folder another user controls (theirs, below theirs even if still to be
// made, or one others may write to without the sticky bit), before writing
// any key file; the error names the folder.
func TestKeysGenerateIntoAFolderOthersControl(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("giving a folder to another user needs root (CI must run the tests as root)")
		}
		t.Skip("giving a folder to another user needs root (run as root, as CI does)")
	}
	const nobody = 65534
	for _, tc := range []struct {
		name        string
		plant       func(shared string) (out, named string)
		wantInError string
	}{
		{"a folder of another user", func(shared string) (string, string) {
			out := filepath.Join(shared, "keys")
			must(t, os.Mkdir(out, 0o700))
			must(t, os.Chown(out, nobody, nobody))
			return out, out
		}, "chown"},
		{"to be made below a folder of another user", func(shared string) (string, string) {
			theirs := filepath.Join(shared, "theirs")
			must(t, os.Mkdir(theirs, 0o755))
			must(t, os.Chown(theirs, nobody, nobody))
			return filepath.Join(theirs, "a", "keys"), theirs
		}, "chown"},
		{"below a folder others may write to", func(shared string) (string, string) {
			open := filepath.Join(shared, "open")
			must(t, os.Mkdir(open, 0o700))
			must(t, os.Chmod(open, 0o777))
			return filepath.Join(open, "keys"), open
		}, "chmod go-w"},
		{"a folder others may write to", func(shared string) (string, string) {
			out := filepath.Join(shared, "keys")
			must(t, os.Mkdir(out, 0o700))
			must(t, os.Chmod(out, 0o777))
			return out, out
		}, "chmod go-w"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, named := tc.plant(t.TempDir())
			r := sealpost(t, "keys", "generate", "--id", us, "--out", out).wantError(t, 2, named)
			if !strings.Contains(r.stderr, tc.wantInError) {
				t.Errorf("error does not say %q:\n%s", tc.wantInError, r)
			}
			if _, err := os.Lstat(filepath.Join(out, us+".secret.asc")); err == nil {
				t.Fatal("the secret key was written into the folder")
			}
		})
	}
}

// TestKeysInspectBadPin: a mistyped --pin is a usage error naming it, not a
// key that is "not pinned".
func TestKeysInspectBadPin(t *testing.T) {
	w := newCLIWorld(t, "")
	ukFile := filepath.Join(filepath.Dir(w.parties[uk].dir), uk+".public.asc")
	sealpost(t, "keys", "inspect", "--pin", "0123abc", ukFile).wantError(t, 2, `"0123abc" is not a fingerprint`)
}
