package main

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDistUnit checks the systemd unit for the hardening the operations
// page promises, and the cron example for the command it runs.
func TestDistUnit(t *testing.T) {
	unit, err := os.ReadFile(filepath.Join("..", "..", "dist", "sealpost.service"))
	must(t, err)
	for _, line := range []string{
		"User=sealpost", "ProtectSystem=strict", "ProtectHome=true", "PrivateTmp=true", "NoNewPrivileges=true",
		"ReadWritePaths=/var/lib/sealpost", "CapabilityBoundingSet=", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
		"SystemCallFilter=@system-service", "ExecReload=/bin/kill -HUP $MAINPID",
		"ExecStart=/usr/local/bin/sealpost --log-format json daemon", "Environment=SEALPOST_CONFIG=/etc/sealpost/sealpost.yaml",
	} {
		if !hasLine(string(unit), line) {
			t.Errorf("dist/sealpost.service has no line %q", line)
		}
	}
	cron, err := os.ReadFile(filepath.Join("..", "..", "dist", "sealpost.cron"))
	must(t, err)
	if !strings.Contains(string(cron), "sealpost  out=$(sealpost --log-format json run 2>&1)") || strings.Contains(string(cron), "%") {
		t.Errorf("dist/sealpost.cron: no run line, or a %% (a newline to cron):\n%s", cron)
	}
}

func hasLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if l == line {
			return true
		}
	}
	return false
}

// TestMakeInstall installs into a DESTDIR with another PREFIX and checks
// the files, their modes, the unit's paths, and that a second install keeps
// an edited configuration.
func TestMakeInstall(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	dest := t.TempDir()
	install := func() string {
		// -o build: install the binary TestMain built instead of building again.
		cmd := exec.Command("make", "-C", filepath.Join("..", ".."), "-o", "build", "install", "DESTDIR="+dest, "PREFIX=/opt/sp",
			"BIN="+binary)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make install: %v\n%s", err, out)
		}
		return string(out)
	}
	install()
	for path, mode := range map[string]os.FileMode{
		"opt/sp/bin/sealpost":                          0o755,
		"etc/systemd/system/sealpost.service":          0o644,
		"etc/sealpost":                                 0o750,
		"etc/sealpost/keys":                            0o700,
		"etc/sealpost/sealpost.yaml":                   0o640,
		"etc/sealpost/sealpost.yaml.example":           0o640,
		"etc/sealpost/sealpost.cron.example":           0o644,
		"opt/sp/share/doc/sealpost/docs/operations.md": 0o644,
		"opt/sp/share/doc/sealpost/docs/format.md":     0o644,
		"opt/sp/share/doc/sealpost/SECURITY.md":        0o644,
	} {
		fi, err := os.Stat(filepath.Join(dest, path))
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s has mode %04o, want %04o", path, fi.Mode().Perm(), mode)
		}
	}
	checkDocLinks(t, filepath.Join(dest, "opt/sp/share/doc/sealpost"))
	unit, err := os.ReadFile(filepath.Join(dest, "etc/systemd/system/sealpost.service"))
	must(t, err)
	if !strings.Contains(string(unit), "ExecStart=/opt/sp/bin/sealpost --log-format json daemon") || strings.Contains(string(unit), "/usr/local") {
		t.Errorf("installed unit does not point at PREFIX:\n%s", unit)
	}
	cfg := filepath.Join(dest, "etc/sealpost/sealpost.yaml")
	must(t, os.WriteFile(cfg, []byte("# edited\n"), 0o640))
	if out := install(); !strings.Contains(out, "kept the existing") {
		t.Errorf("second install did not say it kept the configuration:\n%s", out)
	}
	if data, _ := os.ReadFile(cfg); string(data) != "# edited\n" {
		t.Errorf("make install overwrote the configuration")
	}
}

// mdLink matches the target of a Markdown link: [text](target).
var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// checkDocLinks fails for a link in an installed document that leaves the
// documentation folder or names a file that was not installed: users have
// only what make install gives them.
func checkDocLinks(t *testing.T, docdir string) {
	t.Helper()
	err := filepath.WalkDir(docdir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".md") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range mdLink.FindAllStringSubmatch(string(data), -1) {
			target, _, _ := strings.Cut(m[1], "#")
			if target == "" || strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			abs := filepath.Join(filepath.Dir(path), target)
			if rel, err := filepath.Rel(docdir, abs); err != nil || strings.HasPrefix(rel, "..") {
				t.Errorf("%s links to %s, outside the installed documentation", path, m[1])
			} else if _, err := os.Stat(abs); err != nil {
				t.Errorf("%s links to %s, which make install does not install", path, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
