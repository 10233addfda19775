package safeopen

import (
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// secret is what a hostile tree tries to make the walk read.
const secret = "-----BEGIN PGP PRIVATE KEY BLOCK----- our secret key"

// must fails the test on err.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// write creates dir/rel holding body, and its folders.
func write(t *testing.T, dir, rel, body string) string {
	t.Helper()
	p := filepath.Join(dir, rel)
	must(t, os.MkdirAll(filepath.Dir(p), 0o700))
	must(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

// secretFile makes a folder outside every tree holding the secret, and
// returns the secret file's path.
func secretFile(t *testing.T) string {
	return write(t, t.TempDir(), "keys/us.secret.asc", secret)
}

// collect walks path, returning what each file held, by rel.
func collect(path string) (map[string]string, error) {
	got := map[string]string{}
	err := Walk(path, func(rel string, f *os.File, _ fs.FileInfo) error {
		if f == nil {
			got[rel+"/"] = ""
			return nil
		}
		b, err := io.ReadAll(f)
		got[rel] = string(b)
		return err
	})
	return got, err
}

// assertRefused checks that err is an ErrUnsafe naming want and that the
// secret was never read.
func assertRefused(t *testing.T, got map[string]string, err error, want string) {
	t.Helper()
	if !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), want) {
		t.Errorf("Walk: %v; want ErrUnsafe naming %q", err, want)
	}
	for rel, body := range got {
		if strings.Contains(body, "PRIVATE KEY") {
			t.Errorf("the walk read the secret key as %s", rel)
		}
	}
}

// TestWalkReadsPlainTrees: a file, and a folder with nested folders, are
// visited parents first in lexical order with their contents.
func TestWalkReadsPlainTrees(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "tree/b.txt", "b")
	write(t, dir, "tree/a/deep/c.txt", "c")
	write(t, dir, "tree/a/a.txt", "a")
	var order []string
	must(t, Walk(filepath.Join(dir, "tree"), func(rel string, f *os.File, _ fs.FileInfo) error {
		order = append(order, rel)
		return nil
	}))
	if got := strings.Join(order, " "); got != ". a a/a.txt a/deep a/deep/c.txt b.txt" {
		t.Errorf("visited %s", got)
	}
	got, err := collect(filepath.Join(dir, "tree", "b.txt"))
	if err != nil || got["."] != "b" {
		t.Errorf("a single file: %v, %v", got, err)
	}
}

// TestWalkRefusesLinksAndSpecialFilesAtAnyDepth: a symbolic link (to a
// file, to a folder, inside or outside the tree), a hard-linked file, a
// FIFO, a socket or a device, at the top or at any depth, refuses the walk
// without reading the secret (and without blocking on a FIFO).
func TestWalkRefusesLinksAndSpecialFilesAtAnyDepth(t *testing.T) {
	type plant func(t *testing.T, top, at, key string)
	symlinkTo := func(target func(top, key string) string) plant {
		return func(t *testing.T, top, at, key string) {
			must(t, os.MkdirAll(filepath.Dir(at), 0o700))
			must(t, os.Symlink(target(top, key), at))
		}
	}
	hardlink := func(t *testing.T, top, at, key string) {
		must(t, os.MkdirAll(filepath.Dir(at), 0o700))
		must(t, os.Link(key, at))
	}
	hardlinkInside := func(t *testing.T, top, at, key string) {
		must(t, os.MkdirAll(filepath.Dir(at), 0o700))
		must(t, os.Link(filepath.Join(top, "plain.txt"), at))
	}
	fifo := func(t *testing.T, top, at, key string) {
		must(t, os.MkdirAll(filepath.Dir(at), 0o700))
		must(t, syscall.Mkfifo(at, 0o600))
	}
	sock := func(t *testing.T, top, at, key string) {
		must(t, os.MkdirAll(filepath.Dir(at), 0o700))
		l, err := net.Listen("unix", at)
		must(t, err)
		t.Cleanup(func() { l.Close() })
	}
	device := func(t *testing.T, top, at, key string) {
		if os.Geteuid() != 0 {
			if os.Getenv("CI") != "" {
				t.Fatal("making device nodes needs root (CI must run the tests as root)")
			}
			t.Skip("making device nodes needs root (run as root, as CI does)")
		}
		must(t, os.MkdirAll(filepath.Dir(at), 0o700))
		must(t, syscall.Mknod(at, syscall.S_IFCHR|0o600, 1<<8|5)) // /dev/zero
	}
	kinds := []struct {
		name  string
		plant plant
		want  string
	}{
		{"symlink to the secret", symlinkTo(func(_, key string) string { return key }), "symbolic link"},
		{"symlink to the secret's folder", symlinkTo(func(_, key string) string { return filepath.Dir(key) }), "symbolic link"},
		{"relative symlink escaping", symlinkTo(func(_, key string) string { return "../../../../../../../../../../.." + key }), "symbolic link"},
		{"symlink inside the tree", symlinkTo(func(top, _ string) string { return filepath.Join(top, "plain.txt") }), "symbolic link"},
		{"dangling symlink", symlinkTo(func(top, _ string) string { return filepath.Join(top, "nothing") }), "symbolic link"},
		{"hard link to the secret", hardlink, "hard links"},
		{"hard link inside the tree", hardlinkInside, "hard links"},
		{"named pipe", fifo, "named pipe"},
		{"socket", sock, "socket"},
		{"character device", device, "character device"},
	}
	depths := []string{"x", "a/x", "a/b/c/x"}
	for _, k := range kinds {
		for _, rel := range depths {
			t.Run(k.name+"/"+rel, func(t *testing.T) {
				key := secretFile(t)
				top := filepath.Join(t.TempDir(), "item")
				write(t, top, "plain.txt", "fine")
				write(t, top, "a/b/fine.txt", "fine")
				k.plant(t, top, filepath.Join(top, rel), key)
				got, err := collect(top)
				if k.name != "hard link inside the tree" { // plain.txt, its other name, may come first
					assertRefused(t, got, err, filepath.Join(top, rel))
				}
				assertRefused(t, got, err, k.want)
			})
		}
		if k.name == "hard link inside the tree" {
			continue
		}
		t.Run(k.name+"/top", func(t *testing.T) {
			key := secretFile(t)
			top := filepath.Join(t.TempDir(), "item")
			write(t, t.TempDir(), "plain.txt", "fine")
			k.plant(t, filepath.Dir(key), top, key)
			got, err := collect(top)
			assertRefused(t, got, err, k.want)
		})
	}
}

// TestWalkRefusesASwapBetweenLookAndOpen: an entry replaced, after it was
// looked at and before it is opened, by a symbolic link (to the secret, to
// its folder, to another file or folder of the tree) or by a hard link to
// the secret is refused; the secret is never read.
func TestWalkRefusesASwapBetweenLookAndOpen(t *testing.T) {
	swaps := []struct {
		name   string
		victim string // rel of the entry swapped; "" the top
		swap   func(t *testing.T, at, top, key string)
	}{
		{"file to symlink to the secret", "a/doc.txt", func(t *testing.T, at, _, key string) {
			replace(t, at, func(tmp string) error { return os.Symlink(key, tmp) })
		}},
		{"file to symlink inside the tree", "a/doc.txt", func(t *testing.T, at, top, _ string) {
			replace(t, at, func(tmp string) error { return os.Symlink(filepath.Join(top, "z.txt"), tmp) })
		}},
		{"file to relative symlink beside it", "a/doc.txt", func(t *testing.T, at, _, _ string) {
			replace(t, at, func(tmp string) error { return os.Symlink("us.secret.asc", tmp) })
		}},
		{"file to hard link to the secret", "a/doc.txt", func(t *testing.T, at, _, key string) {
			replace(t, at, func(tmp string) error { return os.Link(key, tmp) })
		}},
		{"folder to symlink to the secret's folder", "a", func(t *testing.T, at, _, key string) {
			replace(t, at, func(tmp string) error { return os.Symlink(filepath.Dir(key), tmp) })
		}},
		{"folder to symlink inside the tree", "a", func(t *testing.T, at, top, _ string) {
			replace(t, at, func(tmp string) error { return os.Symlink(filepath.Join(top, "other"), tmp) })
		}},
		{"folder to relative symlink beside it", "a", func(t *testing.T, at, _, _ string) {
			replace(t, at, func(tmp string) error { return os.Symlink("other", tmp) })
		}},
		{"top file to symlink to the secret", ".", func(t *testing.T, at, _, key string) {
			replace(t, at, func(tmp string) error { return os.Symlink(key, tmp) })
		}},
		{"top folder to symlink to the secret's folder", ".", func(t *testing.T, at, _, key string) {
			replace(t, at, func(tmp string) error { return os.Symlink(filepath.Dir(key), tmp) })
		}},
	}
	for _, s := range swaps {
		t.Run(s.name, func(t *testing.T) {
			key := secretFile(t)
			top := filepath.Join(t.TempDir(), "item")
			write(t, top, "a/doc.txt", "fine")
			write(t, top, "a/us.secret.asc", "a decoy with the secret's name")
			write(t, top, "other/us.secret.asc", "a decoy with the secret's name")
			write(t, top, "z.txt", "fine")
			path := top
			if strings.HasPrefix(s.name, "top file") {
				path = filepath.Join(top, "z.txt")
			}
			at := filepath.Join(top, s.victim)
			if s.victim == "." {
				at = path
			}
			swapped := false
			beforeOpen = func(where string) {
				if where == at && !swapped {
					swapped = true
					s.swap(t, at, top, key)
				}
			}
			t.Cleanup(func() { beforeOpen = func(string) {} })
			got, err := collect(path)
			if !swapped {
				t.Fatalf("the walk never reached %s", at)
			}
			assertRefused(t, got, err, "was replaced while it was read")
			if strings.Contains(got["a/doc.txt"], "decoy") || strings.Contains(got["a/us.secret.asc"], "another") {
				t.Errorf("the walk followed a link inside the tree: %v", got)
			}
		})
	}
}

// replace puts a new entry made by mk at path in place of what is there.
func replace(t *testing.T, path string, mk func(tmp string) error) {
	t.Helper()
	tmp := path + ".swap"
	must(t, mk(tmp))
	must(t, os.Rename(path, path+".old"))
	must(t, os.Rename(tmp, path))
}

// TestOpenRefusesLinksAndSpecialFiles: Open refuses a symbolic link, a
// hard-linked file and a named pipe (without blocking on it), and opens a
// plain file.
func TestOpenRefusesLinksAndSpecialFiles(t *testing.T) {
	key := secretFile(t)
	dir := t.TempDir()
	must(t, os.Symlink(key, filepath.Join(dir, "link")))
	must(t, os.Link(key, filepath.Join(dir, "hard")))
	must(t, syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600))
	for name, want := range map[string]string{"link": "symbolic link", "hard": "hard links", "fifo": "named pipe"} {
		f, _, err := Open(filepath.Join(dir, name))
		if err == nil {
			f.Close()
		}
		if !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%s): %v, want ErrUnsafe naming %q", name, err, want)
		}
	}
	f, fi, err := Open(write(t, dir, "plain", "fine"))
	must(t, err)
	f.Close()
	if fi.Size() != 4 {
		t.Errorf("size %d", fi.Size())
	}
}
