package main

import (
	"os"
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
