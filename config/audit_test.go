package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const auditYAML = `audit:
  rotate: none
  max_file_size: 1GiB
  checkpoint: "CRON_TZ=Europe/London 0 2 * * *"
  checkpoint_dir: proofs
`

func TestAuditSection(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir)
	c, err := Load(writeConfig(t, dir, strings.Replace(fullYAML, "partners:\n", auditYAML+"partners:\n", 1)))
	if err != nil {
		t.Fatal(err)
	}
	want := Audit{Rotate: "none", MaxFileBytes: 1 << 30, Checkpoint: "CRON_TZ=Europe/London 0 2 * * *",
		CheckpointDir: filepath.Join(dir, "proofs")}
	if c.Audit != want {
		t.Errorf("audit = %+v, want %+v", c.Audit, want)
	}
}

func TestAuditDefaults(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir)
	c, err := Load(writeConfig(t, dir, fullYAML))
	if err != nil {
		t.Fatal(err)
	}
	want := Audit{Rotate: "monthly", CheckpointDir: filepath.Join(dir, "state", "checkpoints")}
	if c.Audit != want {
		t.Errorf("audit = %+v, want %+v", c.Audit, want)
	}
}

func TestAuditErrors(t *testing.T) {
	for _, tt := range []struct{ old, new, key, want string }{
		{"rotate: none", "rotate: weekly", "audit.rotate", `"weekly" is not one of: monthly, none`},
		{"max_file_size: 1GiB", "max_file_size: 0", "audit.max_file_size", "must be more than 0"},
		{"max_file_size: 1GiB", "max_file_size: lots", "audit.max_file_size", "lots"},
		{`checkpoint: "CRON_TZ=Europe/London 0 2 * * *"`, `checkpoint: "@fortnightly"`, "audit.checkpoint", "is not a cron spec"},
		{"checkpoint_dir: proofs", "checkpoint_dir: proofs\n  sign: yes", "audit.sign", "unknown key (known keys: checkpoint, checkpoint_dir, max_file_size, rotate)"},
	} {
		dir := t.TempDir()
		writeFiles(t, dir)
		text := strings.Replace(fullYAML, "partners:\n", strings.Replace(auditYAML, tt.old, tt.new, 1)+"partners:\n", 1)
		path := writeConfig(t, dir, text)
		_, err := Load(path)
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("%s: Load = %v, want a *config.Error", tt.new, err)
		}
		at := tt.new
		if i := strings.Index(at, "\n"); i >= 0 {
			at = strings.TrimSpace(at[i+1:])
		}
		if line := lineOf(t, text, at); e.Line != line || e.Key != tt.key || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Load = %q (line %d, key %s), want line %d, key %s, %q", tt.new, err, e.Line, e.Key, line, tt.key, tt.want)
		}
	}
}

func TestExampleSetsAuditKeys(t *testing.T) {
	example, err := os.ReadFile(filepath.Join("..", "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for key := range (&walker{}).auditFields(&Audit{}) {
		if !strings.Contains(string(example), "\n  "+key+": ") {
			t.Errorf("config.example.yaml does not set audit.%s", key)
		}
	}
}
