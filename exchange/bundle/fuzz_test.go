package bundle

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseManifest: ParseManifest never panics, every error carries a
// sentinel, and what it accepts survives encoding and parsing again.
func FuzzParseManifest(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			if Code(err) == "" {
				t.Fatalf("ParseManifest error wraps no sentinel: %v", err)
			}
			return
		}
		first := mustJSON(t, m)
		again, err := ParseManifest(first)
		if err != nil {
			t.Fatalf("ParseManifest refuses its own output: %v\n%s", err, first)
		}
		if second := mustJSON(t, again); !bytes.Equal(first, second) {
			t.Fatalf("the manifest changed in a round trip:\n%s\n%s", first, second)
		}
	})
}

// FuzzRead: Read never panics, writes nothing outside its folder, creates
// only files and folders, classifies every refusal, and what it accepts is
// on disk as the manifest says.
func FuzzRead(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		dir := filepath.Join(parent, "dir")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		m, err := Read(bytes.NewReader(data), dir, Limits{MaxBytes: 1 << 20, MaxFiles: 64}, Expect{})
		if names, _ := os.ReadDir(parent); len(names) != 1 {
			t.Fatalf("Read left %d entries beside its folder", len(names)-1)
		}
		tree := readTree(t, dir)
		if err != nil {
			if Code(err) == "" {
				t.Fatalf("Read error wraps no sentinel: %v", err)
			}
			return
		}
		for _, file := range m.Files {
			if content, ok := tree[file.Path]; !ok || sha256Hex(content) != file.SHA256 {
				t.Fatalf("accepted bundle: %s is not on disk as the manifest says", file.Path)
			}
		}
	})
}
