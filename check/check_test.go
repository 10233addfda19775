package check_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/sealpost/sealpost/check"
	"github.com/sealpost/sealpost/crypto"
	"github.com/sealpost/sealpost/internal/pgptest"
	"github.com/sealpost/sealpost/internal/sftpd"
	"github.com/sealpost/sealpost/internal/testworld"
)

// setup is our side of an exchange with one partner (uk-hmrc) over the
// in-process SFTP server, written to disk as an operator would.
type setup struct {
	t        *testing.T
	dir      string // holds sealpost.yaml, keys/, state/
	srv      *sftpd.Server
	cfg      string // path of sealpost.yaml
	ukFP     string
	ukPublic string
	conf     testworld.Config // what sealpost.yaml holds
}

// newSetup writes keys and a configuration that passes every check.
func newSetup(t *testing.T) *setup {
	t.Helper()
	srv, err := sftpd.Start(t.TempDir(), t.TempDir())
	must(t, err)
	t.Cleanup(func() { srv.Close() })
	for _, d := range []string{"inbound", "outbound"} {
		must(t, os.MkdirAll(filepath.Join(srv.Root, d), 0o755))
	}
	s := &setup{t: t, dir: t.TempDir(), srv: srv}
	must(t, os.Chmod(s.dir, 0o700))
	must(t, os.MkdirAll(filepath.Join(s.dir, "keys"), 0o700))
	secret, _, _ := testworld.Key(t, "us-cbp", 0)
	s.write("keys/us-cbp.secret.asc", secret, 0o600)
	_, public, fp := testworld.Key(t, "uk-hmrc", 0)
	s.ukFP, s.ukPublic = fp, s.write("keys/uk-hmrc.public.asc", public, 0o644)
	s.conf = testworld.Config{ID: "us-cbp", PrivateKey: "keys/us-cbp.secret.asc", Partners: []testworld.Partner{{
		ID: "uk-hmrc", PublicKey: "keys/uk-hmrc.public.asc", Fingerprints: []string{fp},
		Server:  testworld.Server{Addr: srv.Addr, User: "us-cbp", ClientKey: srv.ClientKey, KnownHosts: srv.KnownHosts},
		PushDir: "/inbound", PullDir: "/outbound", Timeout: "5s",
	}}}
	s.writeConfig()
	return s
}

// edit changes the configuration and rewrites it.
func (s *setup) edit(change func(c *testworld.Config)) *setup {
	change(&s.conf)
	s.writeConfig()
	return s
}

// editPartner changes the partner block and rewrites the configuration.
func (s *setup) editPartner(change func(p *testworld.Partner)) *setup {
	return s.edit(func(c *testworld.Config) { change(&c.Partners[0]) })
}

func (s *setup) writeConfig() {
	s.cfg = s.write("sealpost.yaml", []byte(s.conf.YAML()), 0o600)
}

// write writes a file under the setup's folder with mode perm.
func (s *setup) write(name string, data []byte, perm os.FileMode) string {
	s.t.Helper()
	p := filepath.Join(s.dir, name)
	must(s.t, os.MkdirAll(filepath.Dir(p), 0o700))
	must(s.t, os.WriteFile(p, data, perm))
	must(s.t, os.Chmod(p, perm))
	return p
}

// check loads the configuration and runs every check.
func (s *setup) check() *check.Report {
	s.t.Helper()
	cfg, item := check.Load(s.cfg)
	if cfg == nil {
		s.t.Fatalf("configuration does not load: %s", item.Text)
	}
	r, err := check.Run(context.Background(), cfg, check.Options{})
	must(s.t, err)
	return r
}

// want fails unless the report has an item with mark m whose text holds
// every part, and that item has a hint when it is not a pass.
func want(t *testing.T, r *check.Report, m check.Mark, parts ...string) check.Item {
	t.Helper()
	for _, it := range r.Items {
		if it.Mark != m || !containsAll(it.Text, parts) {
			continue
		}
		if m != check.Pass && it.Hint == "" {
			t.Fatalf("item %q has no hint", it.Text)
		}
		return it
	}
	t.Fatalf("no %s item with %q in:\n%s", m, parts, dump(r))
	return check.Item{}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

func dump(r *check.Report) string {
	var b strings.Builder
	for _, it := range r.Items {
		fmt.Fprintf(&b, "%s %s\n", it.Mark, it.Text)
		if it.Hint != "" {
			fmt.Fprintf(&b, "    hint: %s\n", it.Hint)
		}
	}
	return b.String()
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestAllPass(t *testing.T) {
	s := newSetup(t)
	must(t, os.MkdirAll(filepath.Join(s.dir, "state", "inbox"), 0o700))
	r := s.check()
	if r.Count(check.Fail) != 0 || r.Count(check.Warn) != 0 {
		t.Fatalf("a good setup does not pass:\n%s", dump(r))
	}
	for _, parts := range [][]string{
		{"our key", "never expires"},
		{"partner uk-hmrc: pinned key " + s.ukFP, "never expires"},
		{"SFTP login to us-cbp@" + s.srv.Addr, "host key SHA256:"},
		{"push_dir /inbound is writable"},
		{"pull_dir /outbound is readable; 0 bundle(s) waiting"},
		{"state_dir", "owner only"},
		{"sftp.known_hosts", "owner only"},
		{"our secret key file", "private"},
	} {
		want(t, r, check.Pass, parts...)
	}
	// The probe file is gone again.
	if ents, _ := os.ReadDir(filepath.Join(s.srv.Root, "inbound")); len(ents) != 0 {
		t.Fatalf("push_dir holds %v after the check", ents)
	}
}

func TestConfigInvalid(t *testing.T) {
	s := newSetup(t).editPartner(func(p *testworld.Partner) { p.Extra = "colour: blue\n" })
	cfg, item := check.Load(s.cfg)
	if cfg != nil || item.Mark != check.Fail || !strings.Contains(item.Text, "colour") || item.Hint == "" {
		t.Fatalf("an unknown key: %+v", item)
	}
}

func TestSecretKeyTooOpen(t *testing.T) {
	s := newSetup(t)
	must(t, os.Chmod(filepath.Join(s.dir, "keys", "us-cbp.secret.asc"), 0o644))
	cfg, item := check.Load(s.cfg)
	if cfg != nil || item.Mark != check.Fail || !strings.Contains(item.Hint, "chmod 600") {
		t.Fatalf("a group-readable secret key: %+v", item)
	}
}

func TestOurKeyPassphrase(t *testing.T) {
	s := newSetup(t)
	secret, _, _, err := crypto.GenerateKey("us-cbp", crypto.KeyEd25519, []byte("right horse battery"))
	must(t, err)
	s.write("keys/us-cbp.secret.asc", secret, 0o600)
	s.write("pass", []byte("wrong staple\n"), 0o600)
	s.edit(func(c *testworld.Config) { c.Identity = "passphrase_file: pass\n" })
	it := want(t, s.check(), check.Fail, "our key", "passphrase")
	if strings.Contains(it.Text+it.Hint, "wrong staple") {
		t.Fatalf("the passphrase is printed: %+v", it)
	}

	t.Setenv("CHECK_TEST_PASS", "")
	s.edit(func(c *testworld.Config) { c.Identity = "passphrase_env: CHECK_TEST_PASS\n" })
	want(t, s.check(), check.Fail, "our key", "CHECK_TEST_PASS", "not set")
}

func TestOurKeyExpiry(t *testing.T) {
	s := newSetup(t)
	secret, _, _, err := crypto.GenerateKeyWith("us-cbp", crypto.KeyOptions{Lifetime: 10 * 24 * time.Hour})
	must(t, err)
	s.write("keys/us-cbp.secret.asc", secret, 0o600)
	r := s.check()
	want(t, r, check.Warn, "our key", "expires in 9 days")
	if r.Count(check.Fail) != 0 {
		t.Fatalf("an expiring key fails the check:\n%s", dump(r))
	}

	secret, _, _, err = crypto.GenerateKeyWith("us-cbp", crypto.KeyOptions{Lifetime: 24 * time.Hour, Created: time.Now().Add(-72 * time.Hour)})
	must(t, err)
	s.write("keys/us-cbp.secret.asc", secret, 0o600)
	want(t, s.check(), check.Fail, "our key", "expired")
}

func TestPartnerKeys(t *testing.T) {
	t.Run("none pinned", func(t *testing.T) {
		s := newSetup(t).editPartner(func(p *testworld.Partner) { p.Fingerprints = []string{strings.Repeat("ab", 20)} })
		want(t, s.check(), check.Fail, "partner uk-hmrc: public_key", s.ukFP)
	})
	t.Run("expiring and expired", func(t *testing.T) {
		s := newSetup(t)
		_, soon, soonFP, err := crypto.GenerateKeyWith("uk-hmrc", crypto.KeyOptions{Lifetime: 20 * 24 * time.Hour})
		must(t, err)
		_, gone, goneFP, err := crypto.GenerateKeyWith("uk-hmrc", crypto.KeyOptions{Lifetime: time.Hour, Created: time.Now().Add(-2 * time.Hour)})
		must(t, err)
		s.write("keys/uk-hmrc.public.asc", append(soon, gone...), 0o644)
		s.editPartner(func(p *testworld.Partner) { p.Fingerprints = []string{soonFP, goneFP} })
		r := s.check()
		want(t, r, check.Warn, "pinned key "+soonFP, "expires in 19 days")
		want(t, r, check.Fail, "pinned key "+goneFP, "expired")
	})
}

// Issue 10 item 1: a partner's key file that also holds an entity carrying
// the partner's primary key as a subkey (bound by an attacker) plus the
// attacker's encryption subkey, or an attacker's entity copying the
// partner's user id, fails the check naming the file, the key and why; the
// attacker's key is never listed as a pinned key.
func TestPartnerKeyFileHoldsUnpinnedKeys(t *testing.T) {
	t.Run("primary hijacked as a subkey", func(t *testing.T) {
		s := newSetup(t)
		genuine, err := os.ReadFile(s.ukPublic)
		must(t, err)
		attack, x, err := pgptest.Hijack(genuine, pgptest.Flags{Sign: true})
		must(t, err)
		s.write("keys/uk-hmrc.public.asc", append(genuine, attack...), 0o644)
		xFP := fmt.Sprintf("%x", x.PrimaryKey.Fingerprint)
		r := s.check()
		want(t, r, check.Fail, "partner uk-hmrc: public_key", s.ukPublic, "key "+s.ukFP, "occurs 2 times")
		want(t, r, check.Fail, "partner uk-hmrc: public_key", s.ukPublic, "key "+xFP, "is not pinned but could encrypt and sign")
		want(t, r, check.Pass, "pinned key "+s.ukFP)
		for _, it := range r.Items {
			if it.Mark == check.Pass && strings.Contains(it.Text, xFP) {
				t.Fatalf("the attacker's key passes: %s", it.Text)
			}
		}
	})
	t.Run("extra entity with the partner's user id", func(t *testing.T) {
		s := newSetup(t)
		genuine, err := os.ReadFile(s.ukPublic)
		must(t, err)
		x, err := pgptest.NewEntity("sealpost", "uk-hmrc")
		must(t, err)
		extra, err := pgptest.Armor(x)
		must(t, err)
		s.write("keys/uk-hmrc.public.asc", append(extra, genuine...), 0o644)
		xFP := fmt.Sprintf("%x", x.PrimaryKey.Fingerprint)
		want(t, s.check(), check.Fail, s.ukPublic, "key "+xFP, `"sealpost <uk-hmrc>"`)
	})
	t.Run("only the pinned key", func(t *testing.T) {
		s := newSetup(t)
		want(t, s.check(), check.Pass, "partner uk-hmrc: public_key", "holds nothing usable but its pinned keys")
	})
}

func TestPinnedFingerprintNotInFile(t *testing.T) {
	s := newSetup(t)
	other := strings.Repeat("cd", 20)
	s.editPartner(func(p *testworld.Partner) { p.Fingerprints = []string{s.ukFP, other} })
	r := s.check()
	want(t, r, check.Warn, "pinned fingerprint "+other, "not in")
	want(t, r, check.Pass, "pinned key "+s.ukFP)
}

func TestPermissions(t *testing.T) {
	t.Run("state_dir group-writable", func(t *testing.T) {
		s := newSetup(t)
		inbox := filepath.Join(s.dir, "state", "inbox", "uk-hmrc")
		must(t, os.MkdirAll(inbox, 0o700))
		must(t, os.Chmod(inbox, 0o770))
		want(t, s.check(), check.Fail, "state_dir", "1 entries can be changed", inbox)
	})
	t.Run("file in state_dir world-writable", func(t *testing.T) {
		s := newSetup(t)
		f := s.write("state/inbox/uk-hmrc/x/payload/a.pdf", []byte("x"), 0o666)
		want(t, s.check(), check.Fail, "state_dir", f, "0666")
	})
	t.Run("state_dir missing", func(t *testing.T) {
		s := newSetup(t)
		r := s.check()
		want(t, r, check.Warn, "state_dir", "does not exist yet")
		if r.Count(check.Fail) != 0 {
			t.Fatalf("a new installation fails:\n%s", dump(r))
		}
	})
	t.Run("known_hosts writable by others", func(t *testing.T) {
		s := newSetup(t)
		must(t, os.Chmod(s.srv.KnownHosts, 0o666))
		cfg, item := check.Load(s.cfg)
		if cfg != nil || item.Mark != check.Fail || !strings.Contains(item.Text, "writable by others") ||
			!strings.Contains(item.Text, "chmod go-w "+s.srv.KnownHosts) {
			t.Fatalf("a known_hosts writable by others gave %+v", item)
		}
	})
	t.Run("configuration writable by group", func(t *testing.T) {
		s := newSetup(t)
		must(t, os.Chmod(s.cfg, 0o620))
		cfg, item := check.Load(s.cfg)
		if cfg != nil || item.Mark != check.Fail || !strings.Contains(item.Text, "writable by others") || item.Hint == "" {
			t.Fatalf("a group-writable configuration gave %+v", item)
		}
	})
	t.Run("keys folder writable by others", func(t *testing.T) {
		s := newSetup(t)
		must(t, os.Chmod(filepath.Join(s.dir, "keys"), 0o777))
		want(t, s.check(), check.Fail, "our secret key file", "others may replace it")
	})
}

func TestSFTPLogin(t *testing.T) {
	t.Run("host key not pinned", func(t *testing.T) {
		s := newSetup(t)
		_, other, err := ed25519.GenerateKey(rand.Reader)
		must(t, err)
		signer, err := ssh.NewSignerFromKey(other)
		must(t, err)
		line := strings.Fields(s.srv.HostKeyLine)[0] + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
		kh := s.write("keys/known_hosts", []byte(line+"\n"), 0o644)
		s.editPartner(func(p *testworld.Partner) { p.Server.KnownHosts = kh })
		it := want(t, s.check(), check.Fail, "SFTP login", "does NOT match")
		if !strings.Contains(it.Hint, "by phone") {
			t.Fatalf("hint %q", it.Hint)
		}
	})
	t.Run("login refused", func(t *testing.T) {
		s := newSetup(t)
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		must(t, err)
		block, err := ssh.MarshalPrivateKey(priv, "")
		must(t, err)
		key := s.write("keys/id_ed25519", pem.EncodeToMemory(block), 0o600)
		s.editPartner(func(p *testworld.Partner) { p.Server.ClientKey = key })
		it := want(t, s.check(), check.Fail, "SFTP login")
		if !strings.Contains(it.Hint, "authorize") {
			t.Fatalf("hint %q", it.Hint)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		s := newSetup(t)
		addr := s.srv.Addr
		s.srv.Close()
		r := s.check()
		it := want(t, r, check.Fail, "SFTP login", addr)
		if !strings.Contains(it.Hint, "firewall") {
			t.Fatalf("hint %q", it.Hint)
		}
		if r.Count(check.Fail) != 1 {
			t.Fatalf("folders checked without a login:\n%s", dump(r))
		}
	})
}

func TestRemoteFolders(t *testing.T) {
	t.Run("push_dir missing", func(t *testing.T) {
		s := newSetup(t).editPartner(func(p *testworld.Partner) { p.PushDir = "/nowhere" })
		want(t, s.check(), check.Fail, "push_dir /nowhere is not writable")
	})
	t.Run("push_dir is a file", func(t *testing.T) {
		s := newSetup(t).editPartner(func(p *testworld.Partner) { p.PushDir = "/afile" })
		must(t, os.WriteFile(filepath.Join(s.srv.Root, "afile"), nil, 0o644))
		want(t, s.check(), check.Fail, "push_dir /afile is not writable")
	})
	t.Run("pull_dir missing", func(t *testing.T) {
		s := newSetup(t).editPartner(func(p *testworld.Partner) { p.PullDir = "/nothing-here" })
		want(t, s.check(), check.Fail, "pull_dir /nothing-here is not readable")
	})
	t.Run("bundles waiting and odd entries", func(t *testing.T) {
		s := newSetup(t)
		out := filepath.Join(s.srv.Root, "outbound")
		must(t, os.WriteFile(filepath.Join(out, "uk-hmrc_us-cbp_request_x.pgp"), []byte("x"), 0o644))
		must(t, os.Mkdir(filepath.Join(out, "folder.pgp"), 0o755))
		r := s.check()
		want(t, r, check.Pass, "1 bundle(s) waiting")
		want(t, r, check.Warn, "pull_dir /outbound holds 1 entries that are not bundles", `"folder.pgp"`)
	})
	t.Run("after_pull folder missing", func(t *testing.T) {
		s := newSetup(t).editPartner(func(p *testworld.Partner) { p.Extra = "" })
		data, err := os.ReadFile(s.cfg)
		must(t, err)
		must(t, os.WriteFile(s.cfg, []byte(strings.Replace(string(data), "      timeout: 5s\n",
			"      timeout: 5s\n      after_pull: move:/done\n", 1)), 0o600))
		want(t, s.check(), check.Fail, "after_pull folder /done")
		must(t, os.Mkdir(filepath.Join(s.srv.Root, "done"), 0o755))
		want(t, s.check(), check.Pass, "after_pull folder /done exists")
	})
}

func TestMetricsListen(t *testing.T) {
	s := newSetup(t).edit(func(c *testworld.Config) { c.Top = "metrics:\n  listen: 0.0.0.0:9464\n" })
	want(t, s.check(), check.Warn, "metrics endpoint 0.0.0.0:9464 is reachable from the network")
	s.edit(func(c *testworld.Config) { c.Top = "metrics:\n  listen: 127.0.0.1:9464\n" })
	want(t, s.check(), check.Pass, "metrics endpoint 127.0.0.1:9464 is bound to loopback")
}

func TestOnePartner(t *testing.T) {
	s := newSetup(t)
	cfg, _ := check.Load(s.cfg)
	if _, err := check.Run(context.Background(), cfg, check.Options{Partner: "fr-dgddi"}); err == nil {
		t.Fatal("an unknown partner was checked")
	}
	r, err := check.Run(context.Background(), cfg, check.Options{Partner: "uk-hmrc"})
	must(t, err)
	want(t, r, check.Pass, "partner uk-hmrc: SFTP login")
}
