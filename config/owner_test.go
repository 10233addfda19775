package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// stranger is the unprivileged user (nobody) who owns what the tests plant.
const stranger = 65534

// needRoot skips (or, under CI, fails) a test that must give files to
// another user.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("giving a file to another user needs root (CI must run the tests as root)")
		}
		t.Skip("giving a file to another user needs root (run as root, as CI does)")
	}
}

// TestTrustedFilesOwnedByAnotherUser: the configuration, our secret key,
// the passphrase file, an SSH key, a partner's public key or known_hosts
// owned by another unprivileged user, with a mode that would otherwise
// pass, is refused at load, and so is one in a folder (at any height, as
// written or through a link) owned by another user; the error names the
// file or folder, its owner and the chown that fixes it.
func TestTrustedFilesOwnedByAnotherUser(t *testing.T) {
	needRoot(t)
	for _, rel := range []string{
		"sealpost.yaml",
		"keys/us-cbp.secret.asc",
		"secrets/pgp-passphrase",
		"keys/id_ed25519",
		"keys/zoll_ed25519",
		"keys/uk-hmrc.public.asc",
		"keys/de-zoll.public.asc",
		"keys/known_hosts",
		"keys",    // the folder holding the keys
		"secrets", // the folder holding the passphrase
		".",       // the folder holding everything
	} {
		t.Run(rel, func(t *testing.T) {
			dir, path := fixture(t)
			owned := filepath.Join(dir, rel)
			if err := os.Chown(owned, stranger, stranger); err != nil {
				t.Fatal(err)
			}
			assertNotOurs(t, path, filepath.Clean(owned))
		})
	}
	t.Run("above, through a link", func(t *testing.T) {
		dir, path := fixture(t)
		theirs := filepath.Join(t.TempDir(), "theirs")
		if err := os.Mkdir(theirs, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "keys"), filepath.Join(theirs, "keys")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join(theirs, "keys"), filepath.Join(dir, "keys")); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(path); err != nil {
			t.Fatalf("keys through a link to folders of ours: %v", err)
		}
		if err := os.Chown(theirs, stranger, stranger); err != nil {
			t.Fatal(err)
		}
		assertNotOurs(t, path, theirs)
	})
}

// assertNotOurs checks that loading path fails naming owned, its owner and
// the fix.
func assertNotOurs(t *testing.T, path, owned string) {
	t.Helper()
	_, err := Load(path)
	var oe *OwnerError
	if !errors.Is(err, ErrNotOurs) || !errors.As(err, &oe) || oe.Path != owned {
		t.Fatalf("Load: %v; want an OwnerError for %s", err, owned)
	}
	for _, want := range []string{owned, "uid 65534", "run chown root " + owned} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// TestPassphraseFileOwnedByAnotherUser: a passphrase file given to another
// user after the configuration loaded is refused when it is read, judged on
// the open file.
func TestPassphraseFileOwnedByAnotherUser(t *testing.T) {
	needRoot(t)
	dir, path := fixture(t)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(dir, "secrets/pgp-passphrase"), stranger, stranger); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Identity.Passphrase(); !errors.Is(err, ErrNotOurs) || strings.Contains(err.Error(), passphrase) {
		t.Fatalf("Passphrase: %v; want ErrNotOurs, without the passphrase", err)
	}
}

// TestConfigNotARegularFile: a configuration that is a named pipe is
// refused without blocking the load (it is judged on the open file).
func TestConfigNotARegularFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sealpost.yaml")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("Load of a FIFO: %v", err)
	}
}

// TestPassphraseFileNotARegularFile: a passphrase file that is a named
// pipe is refused at once, judged on the open file, instead of blocking.
func TestPassphraseFileNotARegularFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pass")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := (Identity{PassphraseFile: path}).Passphrase(); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("Passphrase from a FIFO: %v", err)
	}
}

// TestStateFoldersOwnedByAnotherUser: state_dir and checkpoint_dir hold what
// we decrypt, our evidence and our log; one that belongs to another user, or
// that sits (existing or still to be made) below a folder of another user,
// who could rename it and put their own folder or a link in its place, is
// refused at load, naming the folder, its owner and the chown.
func TestStateFoldersOwnedByAnotherUser(t *testing.T) {
	needRoot(t)
	for _, tc := range []struct {
		name, key, value string
		mkdir, chown     string // relative to the fixture's folder
	}{
		{"state_dir owned by another user", "state_dir", "state", "state", "state"},
		{"state_dir in a folder of another user", "state_dir", "theirs/state", "theirs/state", "theirs"},
		{"state_dir to be made in a folder of another user", "state_dir", "theirs/state", "theirs", "theirs"},
		{"state_dir to be made two levels below", "state_dir", "theirs/a/state", "theirs", "theirs"},
		{"checkpoint_dir owned by another user", "checkpoint_dir", "proofs", "proofs", "proofs"},
		{"checkpoint_dir to be made in a folder of another user", "checkpoint_dir", "theirs/proofs", "theirs", "theirs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir)
			text := strings.Replace(fullYAML, "state_dir: state", "state_dir: "+tc.value, 1)
			if tc.key == "checkpoint_dir" {
				text += "audit:\n  checkpoint_dir: " + tc.value + "\n"
			}
			path := writeConfig(t, dir, text)
			if _, err := Load(path); err != nil {
				t.Fatalf("Load with %s %s of ours: %v", tc.key, tc.value, err)
			}
			must := func(err error) {
				if err != nil {
					t.Fatal(err)
				}
			}
			must(os.MkdirAll(filepath.Join(dir, tc.mkdir), 0o700))
			must(os.Chown(filepath.Join(dir, tc.chown), stranger, stranger))
			assertNotOurs(t, path, filepath.Join(dir, tc.chown))
		})
	}
}

// TestTrustedFilesWritableByOthers: a partner's public key or known_hosts
// that its group or others may write is refused at load, as the
// configuration is: whoever may write known_hosts chooses the server we
// talk to, and whoever may write a public key file can empty it or fill it.
func TestTrustedFilesWritableByOthers(t *testing.T) {
	for _, rel := range []string{"keys/uk-hmrc.public.asc", "keys/de-zoll.public.asc", "keys/known_hosts"} {
		for _, mode := range []os.FileMode{0o666, 0o646, 0o664} {
			t.Run(rel+"/"+mode.String(), func(t *testing.T) {
				dir, path := fixture(t)
				file := filepath.Join(dir, rel)
				if err := os.Chmod(file, mode); err != nil {
					t.Fatal(err)
				}
				_, err := Load(path)
				if !errors.Is(err, ErrWritableByOthers) || !strings.Contains(err.Error(), "chmod go-w "+file) {
					t.Fatalf("Load with %s mode %v: %v; want ErrWritableByOthers naming the chmod", rel, mode, err)
				}
			})
		}
	}
}

// TestStateDirOthersMayWrite: a state_dir that its group or others may
// write to, or below a folder they may write to without the sticky bit
// (they could rename state_dir away and put their own folder in its place
// while a daemon runs), is refused at load, naming the folder and the chmod.
func TestStateDirOthersMayWrite(t *testing.T) {
	for _, tc := range []struct {
		name, value, open string
		mode              os.FileMode
	}{
		{"state_dir writable by others", "state", "state", 0o777},
		{"state_dir writable by its group", "state", "state", 0o770},
		{"state_dir with the sticky bit, writable by others", "state", "state", 0o777 | os.ModeSticky},
		{"folder above writable by others", "shared/state", "shared", 0o777},
		{"folder above state_dir still to be made", "shared/a/state", "shared", 0o775},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir)
			path := writeConfig(t, dir, strings.Replace(fullYAML, "state_dir: state", "state_dir: "+tc.value, 1))
			open := filepath.Join(dir, tc.open)
			if err := os.MkdirAll(open, 0o700); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(path); err != nil {
				t.Fatalf("Load with state_dir %s private: %v", tc.value, err)
			}
			if err := os.Chmod(open, tc.mode); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if !errors.Is(err, ErrWritableByOthers) || !strings.Contains(err.Error(), "chmod go-w "+open) {
				t.Fatalf("Load with %s mode %v: %v; want ErrWritableByOthers naming the chmod", tc.open, tc.mode, err)
			}
		})
	}
}
