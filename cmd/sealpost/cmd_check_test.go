package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCheck: the checklist's marks and exit statuses: 0 when all pass
// (warnings do not fail), 1 when a check fails, 2 when the configuration
// does not load.
func TestCheck(t *testing.T) {
	w := newCLIWorld(t, "")
	p := w.parties[us]
	r := p.cli(t, "check").want(t, 0)
	for _, s := range []string{"✓ configuration ", "✓ our key ", "✓ partner uk-hmrc: SFTP login", "✓ partner uk-hmrc: push_dir", "! state_dir"} {
		if !strings.Contains(r.stdout, s) {
			t.Fatalf("no %q line:\n%s", s, r)
		}
	}
	if strings.Contains(r.stdout, "✗") {
		t.Fatalf("a failure in a good setup:\n%s", r)
	}

	// A known_hosts file others may change: the configuration does not
	// load, and the hint says what to chmod.
	must(t, os.Chmod(w.srv.KnownHosts, 0o666))
	r = p.cli(t, "check", "--partner", uk).wantError(t, 2, "writable by others")
	if !strings.Contains(r.stdout, "✗ configuration: ") || !strings.Contains(r.stdout, "run chmod go-w "+w.srv.KnownHosts) ||
		!strings.Contains(r.stdout, "hint: the configuration, the partners' public keys and known_hosts") {
		t.Fatalf("no failed configuration line with a hint:\n%s", r)
	}
	must(t, os.Chmod(w.srv.KnownHosts, 0o600))

	// A secret key others can read: the configuration does not load.
	must(t, os.Chmod(p.dir+"/keys/"+us+".secret.asc", 0o644))
	r = p.cli(t, "check").wantError(t, 2, "too open")
	if !strings.Contains(r.stdout, "✗ configuration: ") || !strings.Contains(r.stdout, "hint: secret files must be readable by their owner only") {
		t.Fatalf("no failed configuration line:\n%s", r)
	}

	must(t, os.Chmod(p.dir+"/keys/"+us+".secret.asc", 0o600))
	p.cli(t, "check", "--partner", "fr-dgddi").wantError(t, 2, "fr-dgddi")
	p.cli(t, "check", "--help").want(t, 0)
}

// TestCheckLocal: a partner whose drop we host (local:) is checked on this
// machine, with no SFTP login; a world-writable push_dir fails the check
// (exit 1) naming the partner, the key and the folder.
func TestCheckLocal(t *testing.T) {
	w := newCLIWorld(t, "")
	p := w.parties[us]
	root := filepath.Join(t.TempDir(), "drop")
	must(t, os.Mkdir(root, 0o755))
	must(t, os.Chmod(root, 0o755))
	push, pull := filepath.Join(root, "to-uk"), filepath.Join(root, "from-uk")
	for _, d := range []string{push, pull} {
		must(t, os.Mkdir(d, 0o700))
		must(t, os.Chmod(d, 0o770|os.ModeSetgid))
	}
	data, err := os.ReadFile(p.cfgPath)
	must(t, err)
	local := "    local:\n      root: " + root + "\n      push_dir: to-uk\n      pull_dir: from-uk\n    settle:"
	cfg := regexp.MustCompile(`(?s)    sftp:\n.*?\n    settle:`).ReplaceAllLiteralString(string(data), local)
	must(t, os.WriteFile(p.cfgPath, []byte(cfg), 0o600))

	r := p.cli(t, "check").want(t, 0)
	for _, s := range []string{"✓ partner uk-hmrc: local.push_dir " + push + " is writable", "✓ partner uk-hmrc: local.pull_dir " + pull + " is readable"} {
		if !strings.Contains(r.stdout, s) {
			t.Fatalf("no %q line:\n%s", s, r)
		}
	}
	if strings.Contains(r.stdout, "✗") || strings.Contains(strings.ToLower(r.stdout), "sftp") {
		t.Fatalf("a failure or an SFTP check for a local partner:\n%s", r)
	}

	must(t, os.Chmod(push, 0o777|os.ModeSetgid))
	r = p.cli(t, "check").wantError(t, 1, "1 check(s) failed")
	if !strings.Contains(r.stdout, "✗ partner uk-hmrc: local.push_dir "+push+" has mode 2777") {
		t.Fatalf("no failed push_dir line:\n%s", r)
	}
}
