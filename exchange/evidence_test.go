package exchange

import (
	"os"
	"path/filepath"
	"testing"
)

// TestKeepEvidenceAfterACrash: a file a crash left linked under <name>.1
// (between link and unlink) is only unlinked from work/ by the next run,
// never kept a third time as <name>.2; the first file is untouched.
func TestKeepEvidenceAfterACrash(t *testing.T) {
	t.Parallel()
	dir, work := t.TempDir(), t.TempDir()
	src := filepath.Join(work, "b.pgp")
	for path, data := range map[string]string{filepath.Join(dir, "b.pgp"): "first", src: "second"} {
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Link(src, filepath.Join(dir, "b.pgp.1")); err != nil {
		t.Fatal(err)
	}
	got, err := keepEvidence(src, dir, "b.pgp")
	if err != nil || got != filepath.Join(dir, "b.pgp.1") {
		t.Fatalf("keepEvidence = %s, %v; want %s", got, err, filepath.Join(dir, "b.pgp.1"))
	}
	if _, err := os.Lstat(src); !os.IsNotExist(err) {
		t.Errorf("work copy: %v, want it removed", err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Errorf("received/ holds %d files, want 2 (no third copy)", len(ents))
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "b.pgp")); string(data) != "first" {
		t.Errorf("the first evidence now holds %q", data)
	}
}
