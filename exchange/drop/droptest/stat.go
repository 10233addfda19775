package droptest

import (
	"context"
	"errors"
	"io/fs"
	"testing"
)

// testStatRemoveRename: Stat describes a file and reports a missing one as
// fs.ErrNotExist; Rename moves a file to another folder; Remove deletes
// it, and a missing file is no error.
func testStatRemoveRename(t *testing.T, w world) {
	w.mkdir("pull", "done")
	w.write("pull/a.pgp", []byte("twelve bytes"))
	ctx := context.Background()
	if fi, err := w.tr.Stat(ctx, "pull/a.pgp"); err != nil || fi.Size() != 12 || !fi.Mode().IsRegular() {
		t.Errorf("Stat = %v, %v; want a 12-byte regular file", fi, err)
	}
	if _, err := w.tr.Stat(ctx, "pull/none.pgp"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat of a missing file = %v, want fs.ErrNotExist", err)
	}
	if err := w.tr.Rename(ctx, "pull/a.pgp", "done/a.pgp"); err != nil {
		t.Fatal(err)
	}
	w.missing("pull/a.pgp")
	if got := w.read("done/a.pgp"); string(got) != "twelve bytes" {
		t.Errorf("moved file holds %q", got)
	}
	if err := w.tr.Remove(ctx, "done/a.pgp"); err != nil {
		t.Fatal(err)
	}
	w.missing("done/a.pgp")
	if err := w.tr.Remove(ctx, "done/a.pgp"); err != nil {
		t.Errorf("Remove of a missing file = %v, want nil", err)
	}
}
