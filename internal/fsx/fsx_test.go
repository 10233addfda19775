package fsx

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestWriteFileModeIgnoresUmask checks that the mode asked for is the mode
// written, under a permissive umask too, and that no temporary file stays.
func TestWriteFileModeIgnoresUmask(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := t.TempDir()
	p := filepath.Join(dir, "secret.json")
	if err := WriteFile(p, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, err %v; want 0600", fi.Mode().Perm(), err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("folder holds %d entries, want only the file", len(ents))
	}
}

// TestAbortLeavesNothing checks that an aborted file leaves no trace and
// never appears under its final name.
func TestAbortLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	f, err := CreateTemp(filepath.Join(dir, "out.pgp"), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("half"))
	f.Abort()
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("abort left %v", ents)
	}
}

// TestMkdirAll checks modes of new folders and that a file in the way is
// an error.
func TestMkdirAll(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "a", "b")
	if err := MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Fatalf("mode %v", fi.Mode().Perm())
	}
	file := filepath.Join(dir, "f")
	os.WriteFile(file, nil, 0o600)
	if err := MkdirAll(file, 0o700); err == nil {
		t.Fatal("MkdirAll over a file succeeded")
	}
}

// planted is a file a local attacker owns, readable and writable by all,
// that a planted link points to.
func planted(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "stolen")
	if err := os.WriteFile(p, []byte("attacker's"), 0o666); err != nil {
		t.Fatal(err)
	}
	return p
}

// assertUntouched fails if the attacker's file no longer holds what they
// put there.
func assertUntouched(t *testing.T, p string) {
	t.Helper()
	if b, err := os.ReadFile(p); err != nil || string(b) != "attacker's" {
		t.Fatalf("the planted target %s now holds %q (%v): it was written through", p, b, err)
	}
}

// assertOurs fails unless path is a regular file (not a link) holding want
// with mode perm.
func assertOurs(t *testing.T, path, want string, perm os.FileMode) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != perm {
		t.Fatalf("%s: %v, %v; want a regular file mode %04o", path, fi, err, perm)
	}
	if b, _ := os.ReadFile(path); string(b) != want {
		t.Fatalf("%s holds %q", path, b)
	}
}

// TestWriteFileNeverWritesThroughPlantedFiles: a symbolic link or a file
// planted at the temporary names WriteFile will try (the old fixed name
// ".<name>.tmp", and the random names, made known to the test), and a link
// planted at the final name, are never opened or written through; the data
// ends in a new regular file of ours, mode 0600.
func TestWriteFileNeverWritesThroughPlantedFiles(t *testing.T) {
	for _, kind := range []string{"symlink", "file"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			target := planted(t)
			plant := func(p string) {
				if kind == "symlink" {
					must(t, os.Symlink(target, p))
				} else {
					must(t, os.WriteFile(p, []byte("attacker's"), 0o666))
				}
			}
			final := filepath.Join(dir, "us.secret.asc")
			plant(filepath.Join(dir, ".us.secret.asc.tmp"))
			names := []string{"guessed1", "guessed2", "guessed3", "free"}
			for _, n := range names[:3] {
				plant(filepath.Join(dir, ".us.secret.asc."+n+".tmp"))
			}
			defer func(old func() string) { tempSuffix = old }(tempSuffix)
			tempSuffix = func() string { n := names[0]; names = names[1:]; return n }
			plant(final + ".other")
			must(t, os.Symlink(final+".other", final))

			must(t, WriteFile(final, []byte("SECRET"), 0o600))
			assertOurs(t, final, "SECRET", 0o600)
			if kind == "symlink" {
				assertUntouched(t, target)
			}
			for _, n := range []string{".us.secret.asc.tmp", ".us.secret.asc.guessed1.tmp", "us.secret.asc.other"} {
				if b, _ := os.ReadFile(filepath.Join(dir, n)); string(b) != "attacker's" {
					t.Fatalf("%s now holds %q", n, b)
				}
			}
		})
	}
}

// TestCreateTempNamesDiffer: two writers of the same path each get their
// own temporary file; neither truncates the other's.
func TestCreateTempNamesDiffer(t *testing.T) {
	p := filepath.Join(t.TempDir(), "out.pgp")
	a, err := CreateTemp(p, 0o600)
	must(t, err)
	defer a.Abort()
	a.Write([]byte("first"))
	b, err := CreateTemp(p, 0o600)
	must(t, err)
	defer b.Abort()
	if a.Name() == b.Name() {
		t.Fatalf("both writers got %s", a.Name())
	}
	if data, _ := os.ReadFile(a.Name()); string(data) != "first" {
		t.Fatalf("the first writer's file holds %q", data)
	}
}

// TestWriteFileNewRefusesAnythingAtItsName: WriteFileNew refuses a file, a
// symbolic link and a dangling symbolic link at its name, never writing
// through it and leaving no temporary file.
func TestWriteFileNewRefusesAnythingAtItsName(t *testing.T) {
	for _, kind := range []string{"file", "symlink", "dangling"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			target := planted(t)
			final := filepath.Join(dir, "us.secret.asc")
			switch kind {
			case "file":
				must(t, os.WriteFile(final, []byte("attacker's"), 0o666))
			case "symlink":
				must(t, os.Symlink(target, final))
			case "dangling":
				target = filepath.Join(t.TempDir(), "not-yet")
				must(t, os.Symlink(target, final))
			}
			err := WriteFileNew(final, []byte("SECRET"), 0o600)
			if !errors.Is(err, fs.ErrExist) {
				t.Fatalf("WriteFileNew over a %s: %v, want fs.ErrExist", kind, err)
			}
			if kind == "dangling" {
				if _, err := os.Lstat(target); err == nil {
					t.Fatal("the dangling link's target was created")
				}
			} else if b, _ := os.ReadFile(final); string(b) != "attacker's" {
				t.Fatalf("%s now holds %q", final, b)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 1 {
				t.Fatalf("the folder holds %v", ents)
			}
		})
	}
	p := filepath.Join(t.TempDir(), "new.asc")
	must(t, WriteFileNew(p, []byte("SECRET"), 0o644))
	assertOurs(t, p, "SECRET", 0o644)
}

// TestMkdirAllRefusesALinkForTheFolder: a symbolic link where MkdirAll
// would set a new folder's mode is refused, not followed: the folder it
// points to keeps its mode.
func TestMkdirAllRefusesALinkForTheFolder(t *testing.T) {
	victim := t.TempDir()
	must(t, os.Chmod(victim, 0o755))
	link := filepath.Join(t.TempDir(), "out")
	must(t, os.Symlink(victim, link))
	if err := chmodDir(link, 0o700); err == nil {
		t.Fatal("chmodDir followed a symbolic link")
	}
	if fi, _ := os.Stat(victim); fi.Mode().Perm() != 0o755 {
		t.Fatalf("the link's target is now mode %04o", fi.Mode().Perm())
	}
}

// must fails the test on err.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
