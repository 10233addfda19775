package droptest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/sealpost/sealpost/exchange/drop"
)

// testDownload: a listed file is read whole, exactly its listed size.
func testDownload(t *testing.T, w world) {
	w.mkdir("pull")
	data := randomBytes(t, 700<<10+7)
	w.write("pull/big.pgp", data)
	w.write("pull/empty.asc", nil)
	for name, want := range map[string][]byte{"big.pgp": data, "empty.asc": nil} {
		var got bytes.Buffer
		n, err := w.tr.DownloadListed(context.Background(), "pull", w.listed("pull", name), &got)
		if err != nil || n != int64(len(want)) || !bytes.Equal(got.Bytes(), want) {
			t.Errorf("DownloadListed %s = %d bytes, %v; content equal %v", name, n, err, bytes.Equal(got.Bytes(), want))
		}
	}
}

// testChanged: a file that is not as listed (grown, shrunk, touched,
// replaced, before or while it is read) fails with drop.ErrChanged; a
// link put in its place is never read through.
func testChanged(t *testing.T, w world) {
	w.mkdir("pull")
	size := 4 << 20
	for _, tc := range []struct {
		name   string
		before func(file string) // after the listing, before the download
		during func(file string) // on the first bytes written out
	}{
		{name: "grown", before: func(f string) { appendTo(t, f) }},
		{name: "shrunk", before: func(f string) { truncate(t, f, 1) }},
		{name: "touched", before: func(f string) { touch(t, f) }},
		{name: "grows while read", during: func(f string) { appendTo(t, f) }},
		{name: "shrinks while read", during: func(f string) { truncate(t, f, 1<<20) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "changing.pgp"
			w.write("pull/"+name, randomBytes(t, size))
			ent := w.listed("pull", name)
			file := w.disk("pull/" + name)
			if tc.before != nil {
				tc.before(file)
			}
			out := &hook{fn: tc.during, file: file}
			n, err := w.tr.DownloadListed(context.Background(), "pull", ent, out)
			if !errors.Is(err, drop.ErrChanged) {
				t.Errorf("DownloadListed = %d bytes, %v; want drop.ErrChanged", n, err)
			}
		})
	}
	t.Run("replaced by a link", func(t *testing.T) {
		secret := bytes.Repeat([]byte("secret!"), 100)
		w.write("secret.txt", secret)
		w.write("pull/swapped.pgp", make([]byte, len(secret)))
		ent := w.listed("pull", "swapped.pgp")
		if err := os.Remove(w.disk("pull/swapped.pgp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("../secret.txt", w.disk("pull/swapped.pgp")); err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if _, err := w.tr.DownloadListed(context.Background(), "pull", ent, &got); err == nil || contains(got.Bytes(), []byte("secret!")) {
			t.Errorf("DownloadListed of a file replaced by a link: %v, read %q", err, got.Bytes())
		}
	})
}

// hook calls fn(file) on its first write and discards what it is given.
type hook struct {
	fn   func(string)
	file string
}

func (h *hook) Write(p []byte) (int, error) {
	if h.fn != nil {
		h.fn(h.file)
		h.fn = nil
	}
	return len(p), nil
}

// appendTo adds one byte to file.
func appendTo(t *testing.T, file string) {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	if _, err := f.Write([]byte{1}); err != nil {
		t.Error(err)
	}
}

// truncate cuts file to n bytes.
func truncate(t *testing.T, file string, n int64) {
	if err := os.Truncate(file, n); err != nil {
		t.Error(err)
	}
}

// touch moves file's modification time an hour on, keeping its size.
func touch(t *testing.T, file string) {
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(file, later, later); err != nil {
		t.Error(err)
	}
}
