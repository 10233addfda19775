package sftpdrop

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/exchange/drop"
	"github.com/sealpost/sealpost/internal/sftpd"
)

func TestCommitRefusesSizeMismatch(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, srv testServer) {
		srv.mkdir(t, "push")
		d := dial(t, srv.cfg)
		data := randomBytes(t, 100_000)

		t.Run("bytes written", func(t *testing.T) {
			u, err := d.Create(context.Background(), srv.remote("push"), "a.pgp")
			if err != nil {
				t.Fatal(err)
			}
			u.Write(data)
			if err := u.Commit(context.Background(), int64(len(data))+1); !errors.Is(err, drop.ErrSize) {
				t.Fatalf("Commit with the wrong size = %v, want drop.ErrSize", err)
			}
			if err := u.Commit(context.Background(), int64(len(data))); !errors.Is(err, drop.ErrSize) {
				t.Errorf("a spoiled upload committed: %v", err)
			}
			assertMissing(t, srv.local("push", "a.pgp"))
			if err := u.Abort(context.Background()); err != nil {
				t.Fatal(err)
			}
			assertMissing(t, srv.local("push", ".a.pgp.part"))
		})

		t.Run("remote size", func(t *testing.T) {
			u, err := d.Create(context.Background(), srv.remote("push"), "b.pgp")
			if err != nil {
				t.Fatal(err)
			}
			u.Write(data)
			if err := u.(*Upload).Close(); err != nil {
				t.Fatal(err)
			}
			// Something on the server cut the file short after we wrote it.
			if err := os.Truncate(srv.local("push", ".b.pgp.part"), 10); err != nil {
				t.Fatal(err)
			}
			if err := u.Commit(context.Background(), int64(len(data))); !errors.Is(err, drop.ErrSize) || !strings.Contains(err.Error(), "holds 10 bytes") {
				t.Fatalf("Commit of a short .part = %v, want drop.ErrSize", err)
			}
			assertMissing(t, srv.local("push", "b.pgp"))
			if err := u.Abort(context.Background()); err != nil {
				t.Fatal(err)
			}
			assertMissing(t, srv.local("push", ".b.pgp.part"))
		})
	})
}

// TestCreateNeverReopensALeftoverPart: an upload abandoned on one
// connection (its handle still open on the server, its writes still
// arriving) and retried on another must not share a file: the retry's
// bundle is published exactly as written, whatever the first attempt's
// late writes do.
func TestCreateNeverReopensALeftoverPart(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, srv testServer) {
		srv.mkdir(t, "push")
		abandoned, retry := dial(t, srv.cfg), dial(t, srv.cfg)
		first, err := abandoned.Create(context.Background(), srv.remote("push"), "a.pgp")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := first.Write(randomBytes(t, uploadBuffer)); err != nil { // sent: the .part exists
			t.Fatal(err)
		}
		data := randomBytes(t, uploadBuffer+1000)
		second, err := retry.Create(context.Background(), srv.remote("push"), "a.pgp")
		if err != nil {
			t.Fatal(err)
		}
		second.Write(data)
		if err := second.Commit(context.Background(), int64(len(data))); err != nil {
			t.Fatal(err)
		}
		if _, err := first.Write(randomBytes(t, uploadBuffer)); err != nil { // the late writes
			t.Fatal(err)
		}
		first.(*Upload).Close()
		got, err := os.ReadFile(srv.local("push", "a.pgp"))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("published file: %d bytes (err %v), equal to the retry's %v; want the retry's %d bytes",
				len(got), err, bytes.Equal(got, data), len(data))
		}
		if err := first.Abort(context.Background()); err != nil {
			t.Fatal(err)
		}
		assertMissing(t, srv.local("push", ".a.pgp.part"))
	})
}

// TestUploadHonoursItsContext: once the context an upload was created
// with ends, its next operation fails with the context's error instead of
// starting, nothing is published, and Abort still removes the .part over
// the connection, which stays usable.
func TestUploadHonoursItsContext(t *testing.T) {
	t.Parallel()
	srv := startSftpd(t)
	srv.mkdir(t, "push")
	d := dial(t, srv.cfg)
	ctx, cancel := context.WithCancel(context.Background())
	u, err := d.Create(ctx, srv.remote("push"), "a.pgp")
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := u.Write(randomBytes(t, uploadBuffer)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Write after the context ended = %v, want context.Canceled", err)
	}
	if err := u.Commit(context.Background(), uploadBuffer); !errors.Is(err, context.Canceled) {
		t.Fatalf("Commit after the context ended = %v, want context.Canceled", err)
	}
	if err := u.Abort(context.Background()); err != nil {
		t.Fatalf("Abort after the context ended: %v", err)
	}
	assertMissing(t, srv.local("push", "a.pgp"))
	assertMissing(t, srv.local("push", ".a.pgp.part"))
	if _, err := d.Create(ctx, srv.remote("push"), "b.pgp"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Create with an ended context = %v, want context.Canceled", err)
	}
	assertMissing(t, srv.local("push", ".b.pgp.part"))
	if err := d.failed(); err != nil {
		t.Fatalf("the connection was closed: %v", err)
	}
}

func TestCreateRefusesUnsafeNames(t *testing.T) {
	t.Parallel()
	srv := startSftpd(t)
	srv.mkdir(t, "push")
	d := dial(t, srv.cfg)
	for _, name := range []string{"../x.pgp", "a/b.pgp", ".hidden.pgp", "plain.txt", "", "ctl\n.pgp"} {
		if _, err := d.Create(context.Background(), srv.remote("push"), name); !errors.Is(err, drop.ErrName) || !drop.IsPermanent(err) {
			t.Errorf("Create(%q) = %v, want permanent drop.ErrName", name, err)
		}
	}
}

func TestCreateInMissingFolder(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, srv testServer) {
		d := dial(t, srv.cfg)
		if _, err := d.Create(context.Background(), srv.remote("missing"), "a.pgp"); !drop.IsPermanent(err) {
			t.Fatalf("Create in a missing folder = %v, want a permanent error", err)
		}
	})
}

// Without posix-rename the upload uses a plain rename, which on OpenSSH
// (and sftpd, which mimics it) fails when the final name exists.
func TestPlainRenameFallback(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, srv testServer) {
		srv.mkdir(t, "push")
		d := dial(t, srv.cfg)
		if srv.prefix != "" { // OpenSSH has posix-rename: make this Drop not use it
			d.posixRename = false
		}
		if d.posixRename {
			t.Fatal("server announced posix-rename@openssh.com")
		}
		push := srv.remote("push")
		data := randomBytes(t, 70_000)

		t.Run("new name", func(t *testing.T) {
			upload(t, d, push, "new.pgp", data)
			got, err := os.ReadFile(srv.local("push", "new.pgp"))
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("final file: %v", err)
			}
		})
		t.Run("plain rename does not replace", func(t *testing.T) {
			writeLocal(t, srv.local("push", "x.pgp"), []byte("old"))
			writeLocal(t, srv.local("push", "y.pgp"), []byte("new"))
			if err := d.Rename(context.Background(), path.Join(push, "y.pgp"), path.Join(push, "x.pgp")); err == nil {
				t.Fatal("plain rename replaced an existing file")
			}
		})
		t.Run("target exists with same size", func(t *testing.T) {
			// A retried commit: the earlier attempt's rename went through.
			writeLocal(t, srv.local("push", "same.pgp"), data)
			upload(t, d, push, "same.pgp", data)
			assertMissing(t, srv.local("push", ".same.pgp.part"))
		})
		t.Run("target exists with other size", func(t *testing.T) {
			writeLocal(t, srv.local("push", "other.pgp"), []byte("something else"))
			u, err := d.Create(context.Background(), push, "other.pgp")
			if err != nil {
				t.Fatal(err)
			}
			u.Write(data)
			if err := u.Commit(context.Background(), int64(len(data))); err == nil || errors.Is(err, drop.ErrSize) {
				t.Fatalf("Commit onto a different file = %v, want the rename error", err)
			}
			if got, _ := os.ReadFile(srv.local("push", "other.pgp")); string(got) != "something else" {
				t.Error("existing file was changed")
			}
			if err := u.Abort(context.Background()); err != nil {
				t.Fatal(err)
			}
			assertMissing(t, srv.local("push", ".other.pgp.part"))
		})
	}, sftpd.WithoutPosixRename())
}

func TestPosixRenameReplaces(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, srv testServer) {
		srv.mkdir(t, "push")
		d := dial(t, srv.cfg)
		if !d.posixRename {
			t.Fatal("server did not announce posix-rename@openssh.com")
		}
		writeLocal(t, srv.local("push", "r.pgp"), []byte("stale, other size"))
		data := randomBytes(t, 1000)
		upload(t, d, srv.remote("push"), "r.pgp", data)
		if got, _ := os.ReadFile(srv.local("push", "r.pgp")); !bytes.Equal(got, data) {
			t.Error("posix-rename did not replace the stale file")
		}
	})
}

func TestCommitWhenServerRefusesRename(t *testing.T) {
	t.Parallel()
	srv := startSftpd(t, sftpd.WithRefuseRename())
	srv.mkdir(t, "push")
	d := dial(t, srv.cfg)
	u, err := d.Create(context.Background(), srv.remote("push"), "a.pgp")
	if err != nil {
		t.Fatal(err)
	}
	u.Write([]byte("payload"))
	err = u.Commit(context.Background(), 7)
	if !errors.Is(err, fs.ErrPermission) || !drop.IsPermanent(err) {
		t.Fatalf("Commit = %v, want a permanent permission error", err)
	}
	assertMissing(t, srv.local("push", "a.pgp"))
	if err := u.Abort(context.Background()); err != nil {
		t.Fatal(err)
	}
	assertMissing(t, srv.local("push", ".a.pgp.part"))
}

func TestCommitRetriedAfterSuccess(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, srv testServer) {
		srv.mkdir(t, "push")
		d := dial(t, srv.cfg)
		u, err := d.Create(context.Background(), srv.remote("push"), "twice.pgp")
		if err != nil {
			t.Fatal(err)
		}
		u.Write([]byte("abc"))
		if err := u.Commit(context.Background(), 3); err != nil {
			t.Fatal(err)
		}
		// The .part is gone; the final name holds the bytes: done again.
		if err := u.Commit(context.Background(), 3); err != nil {
			t.Errorf("second Commit = %v, want nil", err)
		}
		if err := u.Abort(context.Background()); err != nil {
			t.Errorf("Abort after Commit = %v", err)
		}
		if got, _ := os.ReadFile(srv.local("push", "twice.pgp")); string(got) != "abc" {
			t.Errorf("final file = %q", got)
		}
	})
}
