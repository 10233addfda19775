package droptest

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// testEndedContext: once the context has ended no operation starts: each
// fails with the context's cause and the drop is left as it was. An upload
// whose context ends stops writing and publishes nothing; Abort with a
// live context still cleans it up.
func testEndedContext(t *testing.T, w world) {
	w.mkdir("pull", "done", "push")
	w.write("pull/a.pgp", []byte("bundle"))
	ent := w.listed("pull", "a.pgp")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	var got bytes.Buffer
	for op, err := range map[string]error{
		"Stat":           second(w.tr.Stat(ctx, "pull/a.pgp")),
		"Remove":         w.tr.Remove(ctx, "pull/a.pgp"),
		"Rename":         w.tr.Rename(ctx, "pull/a.pgp", "done/a.pgp"),
		"List":           third(w.tr.List(ctx, "pull")),
		"Create":         second(w.tr.Create(ctx, "push", "b.pgp")),
		"DownloadListed": second(w.tr.DownloadListed(ctx, "pull", ent, &got)),
	} {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with an ended context = %v, want context.Canceled", op, err)
		}
	}
	if got.Len() != 0 {
		t.Errorf("DownloadListed with an ended context wrote %q", got.Bytes())
	}
	if b := w.read("pull/a.pgp"); string(b) != "bundle" {
		t.Errorf("pull/a.pgp holds %q, want it untouched", b)
	}
	w.missing("done/a.pgp")
	if names := w.names("push"); len(names) != 0 {
		t.Errorf("push holds %q after a Create with an ended context", names)
	}

	uctx, ucancel := context.WithCancel(context.Background())
	u, err := w.tr.Create(uctx, "push", "c.pgp")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	ucancel()
	if _, err := u.Write([]byte("def")); !errors.Is(err, context.Canceled) {
		t.Errorf("Write once the upload's context ended = %v, want context.Canceled", err)
	}
	if err := u.Commit(ctx, 3); !errors.Is(err, context.Canceled) {
		t.Errorf("Commit with an ended context = %v, want context.Canceled", err)
	}
	w.missing("push/c.pgp")
	if err := u.Abort(context.Background()); err != nil {
		t.Errorf("Abort = %v", err)
	}
	if names := w.names("push"); len(names) != 0 {
		t.Errorf("push holds %q after Abort", names)
	}
}

// second returns the error of a two-value call.
func second[V any](_ V, err error) error { return err }

// third returns the error of a three-value call.
func third[A, B any](_ A, _ B, err error) error { return err }
