package sftpdrop

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"testing"

	"github.com/pkg/sftp"

	"github.com/sealpost/sealpost/exchange/drop"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, srv testServer) {
		srv.mkdir(t, "push", "done")
		d := dial(t, srv.cfg)
		if !strings.HasPrefix(d.HostKey(), "SHA256:") || d.Address() != srv.cfg.Address {
			t.Errorf("HostKey %q, Address %q", d.HostKey(), d.Address())
		}
		push, name := srv.remote("push"), "us_uk_request_1.pgp"
		data := randomBytes(t, 3<<20+17)

		u, err := d.Create(context.Background(), push, name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(u, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		if err := u.(*Upload).Close(); err != nil {
			t.Fatal(err)
		}
		// Before Commit: only the hidden .part exists, and List ignores it.
		if fi, err := os.Stat(srv.local("push", "."+name+".part")); err != nil || fi.Size() != int64(len(data)) {
			t.Fatalf(".part on disk: %v, %v", fi, err)
		}
		assertMissing(t, srv.local("push", name))
		if _, err := d.Stat(context.Background(), path.Join(push, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat of final name before Commit: %v, want not-exist", err)
		}
		if entries, skipped, err := d.List(context.Background(), push); err != nil || len(entries)+len(skipped) != 0 {
			t.Fatalf("List before Commit = %v, %v, %v; want nothing", entries, skipped, err)
		}

		if err := u.Commit(context.Background(), int64(len(data))); err != nil {
			t.Fatal(err)
		}
		assertMissing(t, srv.local("push", "."+name+".part"))
		entries, skipped, err := d.List(context.Background(), push)
		if err != nil || len(skipped) != 0 || len(entries) != 1 || entries[0].Name != name || entries[0].Size != int64(len(data)) {
			t.Fatalf("List after Commit = %+v, %v, %v", entries, skipped, err)
		}
		if entries[0].ModTime.IsZero() {
			t.Error("entry has no ModTime")
		}

		var got bytes.Buffer
		n, err := d.Download(context.Background(), push, name, &got)
		if err != nil || n != int64(len(data)) || !bytes.Equal(got.Bytes(), data) {
			t.Fatalf("Download = %d bytes, %v; content equal: %v", n, err, bytes.Equal(got.Bytes(), data))
		}

		moved := path.Join(srv.remote("done"), name)
		if err := d.Rename(context.Background(), path.Join(push, name), moved); err != nil {
			t.Fatal(err)
		}
		if fi, err := d.Stat(context.Background(), moved); err != nil || fi.Size() != int64(len(data)) {
			t.Fatalf("Stat after Rename: %v, %v", fi, err)
		}
		if err := d.Remove(context.Background(), moved); err != nil {
			t.Fatal(err)
		}
		assertMissing(t, srv.local("done", name))
		if err := d.Remove(context.Background(), moved); err != nil {
			t.Errorf("Remove of a missing file = %v, want nil", err)
		}
	})
}

func TestEmptyUpload(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, srv testServer) {
		srv.mkdir(t, "push")
		d := dial(t, srv.cfg)
		upload(t, d, srv.remote("push"), "empty.asc", nil)
		var got bytes.Buffer
		if n, err := d.Download(context.Background(), srv.remote("push"), "empty.asc", &got); err != nil || n != 0 {
			t.Fatalf("Download of empty file = %d, %v", n, err)
		}
	})
}

// The byte count of a download is checked against the remote size: here
// the file shrinks on the server while it is being read.
func TestDownloadChecksSize(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, srv testServer) {
		srv.mkdir(t, "pull")
		file := srv.local("pull", "shrinks.pgp")
		writeLocal(t, file, randomBytes(t, 8<<20))
		d := dial(t, srv.cfg)
		w := &shrinker{path: file}
		n, err := d.Download(context.Background(), srv.remote("pull"), "shrinks.pgp", w)
		if !errors.Is(err, drop.ErrSize) || drop.IsPermanent(err) || n >= 8<<20 {
			t.Fatalf("Download of a file cut short = %d bytes, %v; want a retryable drop.ErrSize", n, err)
		}
	})
}

// shrinker truncates a file to 1 MiB on the first write it receives.
type shrinker struct {
	path string
	done bool
}

func (s *shrinker) Write(p []byte) (int, error) {
	if !s.done {
		s.done = true
		if err := os.Truncate(s.path, 1<<20); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// TestServerTextIsBounded: an error that quotes the server (its status
// message, here naming a 4,000-byte file name it finds too long) is shown
// within a bound, and still matches what it wraps.
func TestServerTextIsBounded(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, srv testServer) {
		srv.mkdir(t, "pull")
		d := dial(t, srv.cfg)
		name := strings.Repeat("n", 4000) + ".pgp"
		_, err := d.Download(context.Background(), srv.remote("pull"), name, io.Discard)
		var se *sftp.StatusError
		if !errors.As(err, &se) {
			t.Fatalf("Download of a too-long name = %v, want the server's status", err)
		}
		if quoted := len(err.Error()) - len(srv.remote("pull")) - len(name); quoted > maxServerText+200 {
			t.Errorf("the error quotes %d bytes of the server's text: %.300s", quoted, err)
		}
	})
}
