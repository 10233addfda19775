package exchange_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/bundlefile"
	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/exchange"
)

// TestOpenFileOutputFolderOthersControl: `bundle open -o DIR` writes what it
// decrypts only into a folder no other user controls. A DIR that is a
// symbolic link (planted in a shared folder), that belongs to another user
// or sits below a folder of another user (existing or still to be made),
// that group or others may write to, or that sits below a folder they may
// write to without the sticky bit, is refused before anything is
// decrypted into it; the error names the folder.
func TestOpenFileOutputFolderOthersControl(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("giving a folder to another user needs root (CI must run the tests as root)")
		}
		t.Skip("giving a folder to another user needs root (run as root, as CI does)")
	}
	const stranger = 65534
	w := newWorld(t, loopbackServer(t), "", us, uk)
	src := filepath.Join(t.TempDir(), "secret-report.txt")
	must(t, os.WriteFile(src, []byte("for uk-hmrc only"), 0o600))
	sealed := filepath.Join(t.TempDir(), "b.pgp")
	_, _, err := bundlefile.SealFile(t.Context(), w.sides[us].cfg, exchange.EngineKeys(w.sides[us].eng), exchange.SendRequest{To: uk, Paths: []string{src}}, bundlefile.SealOptions{Output: sealed})
	must(t, err)

	for _, tc := range []struct {
		name  string
		plant func(t *testing.T, shared string) (out, named, landed string)
	}{
		{"a link to an empty folder", func(t *testing.T, shared string) (string, string, string) {
			target := t.TempDir()
			must(t, os.Symlink(target, filepath.Join(shared, "out")))
			return filepath.Join(shared, "out"), filepath.Join(shared, "out"), target
		}},
		{"a folder of another user", func(t *testing.T, shared string) (string, string, string) {
			out := filepath.Join(shared, "out")
			must(t, os.Mkdir(out, 0o777))
			must(t, os.Chown(out, stranger, stranger))
			return out, out, out
		}},
		{"below a folder of another user", func(t *testing.T, shared string) (string, string, string) {
			theirs := filepath.Join(shared, "theirs")
			must(t, os.Mkdir(theirs, 0o755))
			must(t, os.Chown(theirs, stranger, stranger))
			return filepath.Join(theirs, "out"), theirs, filepath.Join(theirs, "out")
		}},
		{"below a folder others may write to", func(t *testing.T, shared string) (string, string, string) {
			open := filepath.Join(shared, "open")
			must(t, os.Mkdir(open, 0o700))
			must(t, os.Chmod(open, 0o777))
			return filepath.Join(open, "out"), open, filepath.Join(open, "out")
		}},
		{"a folder others may write to", func(t *testing.T, shared string) (string, string, string) {
			out := filepath.Join(shared, "out")
			must(t, os.Mkdir(out, 0o700))
			must(t, os.Chmod(out, 0o777))
			return out, out, out
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, named, landed := tc.plant(t, t.TempDir())
			_, err := bundlefile.OpenFile(t.Context(), w.sides[uk].cfg, exchange.EngineKeys(w.sides[uk].eng), sealed, out, bundlefile.OpenOptions{From: us})
			var ce *exchange.RequestError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), named) {
				t.Fatalf("OpenFile into %s: %v; want a request error naming %s", out, err, named)
			}
			if errors.Is(err, config.ErrNotOurs) != strings.Contains(tc.name, "another user") {
				t.Errorf("error %v: ErrNotOurs is wrapped only for another user's folder", err)
			}
			if ents, _ := os.ReadDir(landed); len(ents) != 0 {
				t.Fatalf("%s holds %d entries; nothing may be decrypted into it", landed, len(ents))
			}
		})
	}
}
