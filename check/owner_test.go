package check_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/check"
	"github.com/sealpost/sealpost/internal/testworld"
)

// stranger is the unprivileged user (nobody) the tests give files to.
const stranger = 65534

// TestOwnership: `sealpost check` fails a secret key, known_hosts or
// public key owned by another user (naming the file, its owner and the
// chown that fixes it), a state_dir owned by another user (all refused at
// load), and a file in a
// folder that others may write to at any height above it, not only the
// folder right above.
func TestOwnership(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("giving a file to another user needs root (CI must run the tests as root)")
		}
		t.Skip("giving a file to another user needs root (run as root, as CI does)")
	}
	for _, rel := range []string{"keys/us-cbp.secret.asc", "keys/uk-hmrc.public.asc", "keys"} {
		t.Run(rel, func(t *testing.T) {
			s := newSetup(t)
			owned := filepath.Join(s.dir, rel)
			must(t, os.Chown(owned, stranger, stranger))
			cfg, item := check.Load(s.cfg)
			if cfg != nil || item.Mark != check.Fail {
				t.Fatalf("%s owned by nobody: %+v", rel, item)
			}
			for _, want := range []string{owned, "nobody", "run chown root " + owned} {
				if !strings.Contains(item.Text, want) {
					t.Errorf("finding %q does not say %q", item.Text, want)
				}
			}
			if !strings.Contains(item.Hint, "chown") {
				t.Errorf("hint %q does not say chown", item.Hint)
			}
		})
	}
	t.Run("known_hosts", func(t *testing.T) {
		s := newSetup(t)
		must(t, os.Chown(s.srv.KnownHosts, stranger, stranger))
		cfg, item := check.Load(s.cfg)
		if cfg != nil || item.Mark != check.Fail || !strings.Contains(item.Text, "run chown root "+s.srv.KnownHosts) {
			t.Fatalf("known_hosts owned by nobody: %+v", item)
		}
	})
	t.Run("state_dir", func(t *testing.T) {
		s := newSetup(t)
		state := filepath.Join(s.dir, "state")
		must(t, os.MkdirAll(filepath.Join(state, "inbox"), 0o700))
		must(t, os.Chown(state, stranger, stranger))
		cfg, item := check.Load(s.cfg)
		if cfg != nil || item.Mark != check.Fail || !strings.Contains(item.Text, "state_dir") ||
			!strings.Contains(item.Text, "nobody") || !strings.Contains(item.Text, "run chown root "+state) {
			t.Fatalf("state_dir owned by nobody: %+v", item)
		}
	})
	t.Run("open folder two levels up", func(t *testing.T) {
		s := newSetup(t)
		hosts, err := os.ReadFile(s.srv.KnownHosts)
		must(t, err)
		kh := s.write("ssh/deep/er/known_hosts", hosts, 0o644)
		s.editPartner(func(p *testworld.Partner) { p.Server.KnownHosts = kh })
		must(t, os.Chmod(filepath.Join(s.dir, "ssh", "deep"), 0o777))
		want(t, s.check(), check.Fail, "sftp.known_hosts", "ssh/deep with mode 0777", "others may replace it")
	})
}
