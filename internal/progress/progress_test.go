package progress

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestStartWithoutProgressIsSilent(t *testing.T) {
	task := Start(nil, "x", 10)
	if n, err := task.Write([]byte("abc")); n != 3 || err != nil {
		t.Fatalf("silent task wrote %d, %v; want 3, nil", n, err)
	}
	task.Done()
}

func TestStopOnFailsOnceTheContextEnds(t *testing.T) {
	var got []byte
	ctx, cancel := context.WithCancelCause(context.Background())
	w := StopOn(ctx, writerFunc(func(b []byte) (int, error) { got = append(got, b...); return len(b), nil }))
	if _, err := w.Write([]byte("before")); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("interrupted")
	cancel(stop)
	if _, err := w.Write([]byte("after")); !errors.Is(err, stop) {
		t.Fatalf("write after the end: %v, want the context's cause", err)
	}
	if string(got) != "before" {
		t.Fatalf("passed on %q, want only what came before the end", got)
	}
}

func TestTreeSizeCountsRegularFilesOnly(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "a"), make([]byte, 100), 0o600))
	must(t, os.Mkdir(filepath.Join(dir, "sub"), 0o700))
	must(t, os.WriteFile(filepath.Join(dir, "sub", "b"), make([]byte, 23), 0o600))
	must(t, os.Symlink("/etc/passwd", filepath.Join(dir, "link")))
	if n := TreeSize(dir); n != 123 {
		t.Fatalf("TreeSize = %d, want 123 (links not followed)", n)
	}
	if n := TreeSize(filepath.Join(dir, "a")); n != 100 {
		t.Fatalf("TreeSize of a file = %d, want 100", n)
	}
	if n := TreeSize(filepath.Join(dir, "missing")); n != 0 {
		t.Fatalf("TreeSize of a missing path = %d, want 0", n)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
