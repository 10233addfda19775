package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/crypto"
)

// protect replaces a party's key with one protected by pass, pins the new
// key at its partner, and adds identityLine (passphrase_file or
// passphrase_env) to its identity.
func protect(t *testing.T, w *cliWorld, id, peer string, pass []byte, identityLine string) {
	t.Helper()
	p, q := w.parties[id], w.parties[peer]
	secret, public, fp, err := crypto.GenerateKey(id, crypto.KeyEd25519, pass)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(p.dir, "keys", id+".secret.asc"), secret, 0o600))
	must(t, os.WriteFile(filepath.Join(filepath.Dir(p.dir), id+".public.asc"), public, 0o644))
	replaceIn(t, q.cfgPath, p.fp, fp)
	p.fp = fp
	replaceIn(t, p.cfgPath, "  private_key: keys/"+id+".secret.asc\n", "  private_key: keys/"+id+".secret.asc\n"+identityLine)
}

func replaceIn(t *testing.T, path, old, new string) {
	t.Helper()
	data, err := os.ReadFile(path)
	must(t, err)
	if !bytes.Contains(data, []byte(old)) {
		t.Fatalf("%s does not hold %q", path, old)
	}
	must(t, os.WriteFile(path, bytes.Replace(data, []byte(old), []byte(new), 1), 0o600))
}

// TestNoSecretInLogs runs full cycles with passphrase-protected keys (one
// passphrase from an environment variable, one from a file), in both log
// formats and verbose, plus the commands that fail on a wrong or misplaced
// passphrase, and checks that no passphrase appears in any output, in the
// exchange logs or anywhere in the state folders.
func TestNoSecretInLogs(t *testing.T) {
	const envCanary = "canary-env-7f3a9c"
	const fileCanary = "canary-file-51d0e2"
	const wrongCanary = "canary-wrong-c4b8"
	w := newCLIWorld(t, "")
	usP, ukP := w.parties[us], w.parties[uk]
	t.Setenv("SEALPOST_TEST_PASSPHRASE", envCanary)
	protect(t, w, us, uk, []byte(envCanary), "  passphrase_env: SEALPOST_TEST_PASSPHRASE\n")
	passFile := writeFile(t, ukP.dir, "secrets/pgp-passphrase", fileCanary+"\n")
	protect(t, w, uk, us, []byte(fileCanary), "  passphrase_file: "+passFile+"\n")

	var out strings.Builder
	keep := func(r result) result {
		out.WriteString(r.stdout)
		out.WriteString(r.stderr)
		return r
	}
	file := writeFile(t, t.TempDir(), "request.pdf", "a request")
	keep(usP.cli(t, "-v", "send", "--to", uk, "--ref", "CASE-1", file)).want(t, 0)
	keep(usP.cli(t, "-v", "run")).want(t, 0)
	keep(ukP.cli(t, "-v", "--log-format", "json", "run")).want(t, 0)
	keep(usP.cli(t, "-v", "--log-format", "json", "run")).want(t, 0)
	if got := len(names(t, ukP.state("inbox", us))); got != 1 {
		t.Fatalf("the partner filed %d bundles, want 1:\n%s", got, out.String())
	}
	keep(usP.cli(t, "status", "--json")).want(t, 0)
	keep(usP.cli(t, "check")).want(t, 0)
	keep(ukP.cli(t, "check")).want(t, 0)
	keep(usP.cli(t, "audit", "verify")).want(t, 0)
	keep(usP.cli(t, "bundle", "seal", "--to", uk, "-o", filepath.Join(t.TempDir(), "b.pgp"), file)).want(t, 0)

	// A wrong passphrase: the error names the variable, not the value.
	t.Setenv("SEALPOST_TEST_PASSPHRASE", wrongCanary)
	keep(usP.cli(t, "-v", "run")).wantError(t, 2, "passphrase")
	keep(usP.cli(t, "check")).want(t, 1)
	// The passphrase written where the variable's name belongs.
	replaceIn(t, usP.cfgPath, "passphrase_env: SEALPOST_TEST_PASSPHRASE", "passphrase_env: "+wrongCanary+" oops")
	keep(usP.cli(t, "run")).wantError(t, 2, "passphrase_env")
	keep(usP.cli(t, "check")).want(t, 2)
	// A wrong passphrase file.
	must(t, os.WriteFile(passFile, []byte(wrongCanary+"\n"), 0o600))
	keep(ukP.cli(t, "--log-format", "json", "run")).wantError(t, 2, "passphrase")

	for _, canary := range []string{envCanary, fileCanary, wrongCanary} {
		if strings.Contains(out.String(), canary) {
			t.Fatalf("passphrase %s printed:\n%s", canary, out.String())
		}
		for _, p := range []*party{usP, ukP} {
			filepath.Walk(p.state(), func(path string, fi os.FileInfo, err error) error {
				must(t, err)
				if fi.Mode().IsRegular() {
					data, err := os.ReadFile(path)
					must(t, err)
					if bytes.Contains(data, []byte(canary)) {
						t.Fatalf("passphrase %s in %s", canary, path)
					}
				}
				return nil
			})
		}
	}
}

// TestKeysExpiry: keys generate --expires-in, and the expiry in keys
// inspect and status.
func TestKeysExpiry(t *testing.T) {
	w := newCLIWorld(t, "")
	p := w.parties[us]
	dir := filepath.Join(t.TempDir(), "keys")
	r := sealpost(t, "keys", "generate", "--id", us, "--out", dir, "--expires-in", "20d").want(t, 0)
	want := time.Now().Add(20 * 24 * time.Hour).UTC().Format(time.DateOnly)
	for _, s := range []string{"expires     " + want, "read aloud  ", `fingerprints: ["`, "private_key: " + dir} {
		if !strings.Contains(r.stdout, s) {
			t.Fatalf("no %q in:\n%s", s, r)
		}
	}
	r = sealpost(t, "keys", "inspect", filepath.Join(dir, us+".public.asc")).want(t, 0)
	if !strings.Contains(r.stdout, "EXPIRES SOON: usable until "+want) || !strings.Contains(r.stdout, "To trust it for a partner") {
		t.Fatalf("keys inspect of an expiring key:\n%s", r)
	}
	for _, bad := range []string{"soon", "0d", "1h", "-2y"} {
		sealpost(t, "keys", "generate", "--id", us, "--out", t.TempDir(), "--expires-in", bad).wantError(t, 2, "--expires-in")
	}

	// Our key expiring: status flags it, JSON has the date, the run warns.
	secret, err := os.ReadFile(filepath.Join(dir, us+".secret.asc"))
	must(t, err)
	must(t, os.WriteFile(filepath.Join(p.dir, "keys", us+".secret.asc"), secret, 0o600))
	r = p.cli(t, "status").want(t, 0)
	if !strings.Contains(r.stdout, "expires "+want+" (in 19 days)  ROTATE SOON") {
		t.Fatalf("status of an expiring key:\n%s", r)
	}
	r = p.cli(t, "status", "--json").want(t, 0)
	if !strings.Contains(r.stdout, `"expires_soon": true`) {
		t.Fatalf("status --json of an expiring key:\n%s", r)
	}
	r = p.cli(t, "run", "--push-only").want(t, 0)
	if !strings.Contains(r.stderr, `msg="key expires soon; rotate it" owner=us-cbp`) {
		t.Fatalf("no warning in the run's log:\n%s", r)
	}
}
