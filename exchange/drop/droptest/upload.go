package droptest

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"testing"

	"github.com/sealpost/sealpost/exchange/drop"
)

// testPublish: until Commit only the hidden dir/.<name>.part exists, which
// List ignores and Stat of the final name does not see; after it the final
// name holds exactly the bytes written and the .part is gone. A second
// Commit of a published upload is done already.
func testPublish(t *testing.T, w world) {
	w.mkdir("push")
	data := randomBytes(t, 3<<20+17)
	u, err := w.tr.Create(context.Background(), "push", "us_uk_request_1.pgp")
	if err != nil {
		t.Fatal(err)
	}
	if u.Name() != "push/us_uk_request_1.pgp" {
		t.Errorf("Name() = %q, want push/us_uk_request_1.pgp", u.Name())
	}
	if _, err := u.Write(data); err != nil {
		t.Fatal(err)
	}
	if got := w.names("push"); len(got) != 1 || got[0] != ".us_uk_request_1.pgp.part" {
		t.Errorf("before Commit the folder holds %q, want only the hidden .part", got)
	}
	if entries, skipped := w.list("push"); len(entries)+len(skipped) != 0 {
		t.Errorf("List before Commit = %+v, %+v; want nothing", entries, skipped)
	}
	if _, err := w.tr.Stat(context.Background(), "push/us_uk_request_1.pgp"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat of the final name before Commit: %v, want fs.ErrNotExist", err)
	}
	if err := u.Commit(context.Background(), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if got := w.read("push/us_uk_request_1.pgp"); !bytes.Equal(got, data) {
		t.Errorf("published file holds %d bytes, not the %d written", len(got), len(data))
	}
	w.missing("push/.us_uk_request_1.pgp.part")
	if err := u.Commit(context.Background(), int64(len(data))); err != nil {
		t.Errorf("second Commit of a published upload = %v, want nil", err)
	}
	if err := u.Abort(context.Background()); err != nil {
		t.Errorf("Abort after Commit = %v", err)
	}
	if got := w.read("push/us_uk_request_1.pgp"); !bytes.Equal(got, data) {
		t.Error("Commit again or Abort after Commit changed the published file")
	}
}

// testCommitSize: a Commit for another size than written fails with
// drop.ErrSize and publishes nothing.
func testCommitSize(t *testing.T, w world) {
	w.mkdir("push")
	u, err := w.tr.Create(context.Background(), "push", "short.pgp")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Write([]byte("four")); err != nil {
		t.Fatal(err)
	}
	if err := u.Commit(context.Background(), 5); !errors.Is(err, drop.ErrSize) {
		t.Errorf("Commit of 4 bytes as 5 = %v, want drop.ErrSize", err)
	}
	w.missing("push/short.pgp")
	if err := u.Abort(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := w.names("push"); len(got) != 0 {
		t.Errorf("after Abort the folder holds %q, want nothing", got)
	}
}

// testExistingFinalName: a file already under the final name is never
// replaced. The same bytes there count as done (a retried commit whose
// reply was lost); other bytes fail the Commit and stay as they are.
func testExistingFinal(t *testing.T, w world) {
	w.mkdir("push")
	data := []byte("the bundle")
	w.write("push/same.pgp", data)
	if err := w.upload("push", "same.pgp", data); err != nil {
		t.Errorf("upload onto the same bytes = %v, want done", err)
	}
	w.missing("push/.same.pgp.part")

	w.write("push/other.pgp", []byte("someone else's file"))
	u, err := w.tr.Create(context.Background(), "push", "other.pgp")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := u.Commit(context.Background(), int64(len(data))); err == nil {
		t.Error("Commit onto another file succeeded")
	}
	if got := w.read("push/other.pgp"); string(got) != "someone else's file" {
		t.Errorf("the file under the final name was replaced: %q", got)
	}
	if err := u.Abort(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.missing("push/.other.pgp.part")
}

// testAbort: an aborted upload leaves nothing, and neither does a second
// Abort.
func testAbort(t *testing.T, w world) {
	w.mkdir("push")
	u, err := w.tr.Create(context.Background(), "push", "gone.pgp")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Write(randomBytes(t, 100<<10)); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := u.Abort(context.Background()); err != nil {
			t.Errorf("Abort = %v", err)
		}
	}
	if got := w.names("push"); len(got) != 0 {
		t.Errorf("after Abort the folder holds %q, want nothing", got)
	}
}

// testCreateAfresh: Create never reopens a .part: a leftover one (an
// earlier attempt's, or a link planted in its place) is replaced by a new
// file, so nothing of it ends up in the upload.
func testCreateAfresh(t *testing.T, w world) {
	w.mkdir("push")
	w.write("push/.again.pgp.part", bytes.Repeat([]byte("stale "), 1000))
	w.write("elsewhere.txt", []byte("keep me"))
	if err := os.Symlink("../elsewhere.txt", w.disk("push/.linked.pgp.part")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"again.pgp", "linked.pgp"} {
		if err := w.upload("push", name, []byte("fresh")); err != nil {
			t.Fatalf("upload %s over a leftover .part: %v", name, err)
		}
		if got := w.read("push/" + name); string(got) != "fresh" {
			t.Errorf("%s holds %q, want only what this upload wrote", name, got)
		}
	}
	if got := w.read("elsewhere.txt"); string(got) != "keep me" {
		t.Errorf("a file a planted link pointed to was written through: %q", got)
	}
}

// testUnsafeNames: Create refuses names that are hidden, not a bundle's,
// or hostile, with drop.ErrName, creating nothing.
func testUnsafeNames(t *testing.T, w world) {
	w.mkdir("push")
	for _, name := range []string{"", ".hidden.pgp", "notes.txt", "../up.pgp", "a/b.pgp", "bell\x07.pgp", "a..b.pgp"} {
		if u, err := w.tr.Create(context.Background(), "push", name); !errors.Is(err, drop.ErrName) {
			t.Errorf("Create %q = %v, want drop.ErrName", name, err)
			if u != nil {
				u.Abort(context.Background())
			}
		}
	}
	if got := w.names("push"); len(got) != 0 {
		t.Errorf("the folder holds %q, want nothing", got)
	}
	w.missing("up.pgp")
}
