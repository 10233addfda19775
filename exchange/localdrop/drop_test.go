package localdrop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sealpost/sealpost/exchange/drop"
)

// open opens a drop on a fresh folder holding dirs.
func open(t *testing.T, dirs ...string) (*Drop, string) {
	t.Helper()
	root := t.TempDir()
	for _, dir := range dirs {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	d, err := Open(Config{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, root
}

func TestOpenRefusesARelativeOrMissingRoot(t *testing.T) {
	for _, root := range []string{"drop", filepath.Join(t.TempDir(), "missing")} {
		if d, err := Open(Config{Root: root}); err == nil || !strings.Contains(err.Error(), root) {
			t.Errorf("Open(%q) = %v, %v; want an error naming the folder", root, d, err)
		}
	}
}

// A folder on the way that is a symbolic link is refused by every
// operation, even when it points inside the drop.
func TestLinkedFolderRefused(t *testing.T) {
	d, root := open(t, "real")
	if err := os.WriteFile(filepath.Join(root, "real", "a.pgp"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", filepath.Join(root, "pull")); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ent := drop.Entry{Name: "a.pgp", Size: 1}
	for op, err := range map[string]error{
		"List":     third(d.List(ctx, "pull")),
		"Download": second(d.DownloadListed(ctx, "pull", ent, io.Discard)),
		"Create":   second(d.Create(ctx, "pull", "b.pgp")),
		"Stat":     second(d.Stat(ctx, "pull/a.pgp")),
		"Remove":   d.Remove(ctx, "pull/a.pgp"),
		"Rename":   d.Rename(ctx, "real/a.pgp", "pull/c.pgp"),
	} {
		if err == nil || !strings.Contains(err.Error(), "symbolic link") {
			t.Errorf("%s through a linked folder = %v, want it refused", op, err)
		}
	}
	if names := dirNames(t, filepath.Join(root, "real")); len(names) != 1 {
		t.Errorf("the linked-to folder holds %q, want only a.pgp", names)
	}
}

// Published files have the drop's mode whatever the umask: the partner's
// account reads them through the group.
func TestPublishedMode(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	d, root := open(t, "push")
	u, err := d.Create(context.Background(), "/push", "a.pgp")
	if err != nil {
		t.Fatal(err)
	}
	u.Write([]byte("abc"))
	if err := u.Commit(context.Background(), 3); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(root, "push", "a.pgp"))
	if err != nil || fi.Mode().Perm() != DefaultFileMode {
		t.Fatalf("published file: %v, %v; want mode %v", fi, err, DefaultFileMode)
	}
}

// Errors name the drop's folder and the path, and mark themselves as the
// answer to one request (the Drop stays usable).
func TestErrorsNameTheFile(t *testing.T) {
	d, root := open(t, "pull")
	_, err := d.Stat(context.Background(), "pull/none.pgp")
	if err == nil || !strings.Contains(err.Error(), root) || !strings.Contains(err.Error(), "pull/none.pgp") || !drop.IsAnswered(err) {
		t.Errorf("Stat of a missing file = %v; want the folder and path named, marked answered", err)
	}
}

// A listing returns at most MaxEntries files and says how many more there
// were; hidden files count towards MaxScanned, after which reading stops.
// The caps are lowered here (to 1000 and 3000) to keep the test quick.
func TestListIsBounded(t *testing.T) {
	d, root := open(t, "many", "hidden")
	d.maxEntries, d.maxScanned = 1000, 3000
	for i := range d.maxEntries + 5 {
		touchFile(t, filepath.Join(root, "many", fmt.Sprintf("f%06d.pgp", i)))
	}
	entries, skipped, err := d.List(context.Background(), "many")
	if err != nil || len(entries) != d.maxEntries || len(skipped) != 1 || !strings.Contains(skipped[0].Reason, "5 more entries") {
		t.Fatalf("List = %d entries, %+v, %v; want %d and the 5 left out", len(entries), skipped, err, d.maxEntries)
	}
	for i := range d.maxScanned + 1 {
		touchFile(t, filepath.Join(root, "hidden", fmt.Sprintf(".h%06d", i)))
	}
	entries, skipped, err = d.List(context.Background(), "hidden")
	if err != nil || len(entries) != 0 || len(skipped) != 1 || !strings.Contains(skipped[0].Reason, "truncated") {
		t.Fatalf("List = %d entries, %+v, %v; want it truncated", len(entries), skipped, err)
	}
}

// A download is cut one byte past the listed size, however much more the
// file holds.
func TestDownloadReadsAtMostOneBytePast(t *testing.T) {
	d, root := open(t, "pull")
	file := filepath.Join(root, "pull", "a.pgp")
	if err := os.WriteFile(file, []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	ents, _, err := d.List(context.Background(), "pull")
	if err != nil || len(ents) != 1 {
		t.Fatal(ents, err)
	}
	r := &countingReader{r: bytes.NewReader(bytes.Repeat([]byte("x"), 1<<20))}
	n, err := copyCapped(context.Background(), io.Discard, r, ents[0].Size)
	if !errors.Is(err, drop.ErrChanged) || n != 3 || r.n != 4 {
		t.Errorf("copyCapped = %d, %v after reading %d bytes; want ErrChanged after 4", n, err, r.n)
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// touchFile creates an empty file.
func touchFile(t *testing.T, path string) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// dirNames returns the names in a folder.
func dirNames(t *testing.T, dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// second returns the error of a two-value call.
func second[V any](_ V, err error) error { return err }

// third returns the error of a three-value call.
func third[A, B any](_ A, _ B, err error) error { return err }

// TestFolderSwappedForAFIFO: a folder the partner swaps for a FIFO between
// our look and our open must fail the open, not block it for ever (an open
// of a FIFO for reading waits for a writer that never comes). openFolder is
// what List and the folder syncs of Commit, Remove and Rename open with.
func TestFolderSwappedForAFIFO(t *testing.T) {
	d, root := open(t, "pull")
	if err := syscall.Mkfifo(filepath.Join(root, "pull", "done"), 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		f, err := d.openFolder("pull/done")
		if err == nil {
			f.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, syscall.ENOTDIR) {
			t.Fatalf("opening a FIFO as a folder: %v, want ENOTDIR", err)
		}
	case <-time.After(30 * time.Second):
		// Unblock the open so the test process can end.
		if w, err := os.OpenFile(filepath.Join(root, "pull", "done"), os.O_WRONLY, 0); err == nil {
			w.Close()
		}
		t.Fatal("opening a FIFO as a folder blocked")
	}
}

// TestAnotherFileUnderTheFinalNameIsPermanent: when a file of another size
// holds the final name, publishing fails for good (the retry wrapper must
// not upload the whole bundle again and again), and the file is kept.
func TestAnotherFileUnderTheFinalNameIsPermanent(t *testing.T) {
	d, root := open(t, "push")
	final := filepath.Join(root, "push", "us_uk_request_1.pgp")
	if err := os.WriteFile(final, []byte("theirs"), 0o600); err != nil {
		t.Fatal(err)
	}
	up, err := d.Create(t.Context(), "push", "us_uk_request_1.pgp")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up.Write([]byte("ours, longer")); err != nil {
		t.Fatal(err)
	}
	err = up.Commit(t.Context(), int64(len("ours, longer")))
	if err == nil || !drop.IsPermanent(err) || !strings.Contains(err.Error(), "not replaced") {
		t.Fatalf("Commit over another file: %v (permanent %v), want a permanent refusal", err, drop.IsPermanent(err))
	}
	up.Abort(t.Context())
	if got, _ := os.ReadFile(final); string(got) != "theirs" {
		t.Fatalf("the final name now holds %q, want the other file kept", got)
	}
}
