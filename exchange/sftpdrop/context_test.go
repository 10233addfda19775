package sftpdrop

import (
	"context"
	"errors"
	"os"
	"path"
	"testing"
)

// TestEndedContextStartsNothing: once a run's context has ended, Stat,
// Remove, Rename, List and Create fail with the context's cause before
// anything reaches the server (the file is neither removed nor moved),
// and the connection stays usable for a live context.
func TestEndedContextStartsNothing(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, srv testServer) {
		srv.mkdir(t, "push", "done")
		d := dial(t, srv.cfg)
		push, name := srv.remote("push"), "us_uk_request_1.pgp"
		upload(t, d, push, name, []byte("bundle"))
		file := path.Join(push, name)

		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := d.Remove(ctx, file); !errors.Is(err, context.Canceled) {
			t.Errorf("Remove with an ended context: %v, want context.Canceled", err)
		}
		if err := d.Rename(ctx, file, path.Join(srv.remote("done"), name)); !errors.Is(err, context.Canceled) {
			t.Errorf("Rename with an ended context: %v, want context.Canceled", err)
		}
		if _, err := d.Stat(ctx, file); !errors.Is(err, context.Canceled) {
			t.Errorf("Stat with an ended context: %v, want context.Canceled", err)
		}
		if _, _, err := d.List(ctx, push); !errors.Is(err, context.Canceled) {
			t.Errorf("List with an ended context: %v, want context.Canceled", err)
		}
		if _, err := d.Create(ctx, push, "us_uk_request_2.pgp"); !errors.Is(err, context.Canceled) {
			t.Errorf("Create with an ended context: %v, want context.Canceled", err)
		}
		if _, err := os.Stat(srv.local("push", name)); err != nil {
			t.Errorf("the file on the drop: %v, want it untouched", err)
		}
		if fi, err := d.Stat(context.Background(), file); err != nil || fi.Size() != 6 {
			t.Errorf("Stat with a live context afterwards: %v, %v", fi, err)
		}
	})
}
