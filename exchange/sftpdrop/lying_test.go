package sftpdrop

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/sftpd"
)

// startLiar runs the in-process server with lies and returns it with the
// test server view of it.
func startLiar(t *testing.T, opts ...sftpd.Option) (*sftpd.Server, testServer) {
	t.Helper()
	root := t.TempDir()
	srv, err := sftpd.Start(root, t.TempDir(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ts := testServer{cfg: Config{Address: srv.Addr, User: "sealpost", KeyFile: srv.ClientKey,
		KnownHosts: srv.KnownHosts, Timeout: 5 * time.Second}, root: root}
	ts.mkdir(t, "pull")
	return srv, ts
}

// countingWriter counts the bytes written to it and keeps none.
type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// TestDownloadStopsAtTheListedSize: a file listed (and stat'ed) at 1,000
// bytes that the server keeps serving is read to 1,000 bytes and no
// further, and refused, both as listed and as a plain download.
func TestDownloadStopsAtTheListedSize(t *testing.T) {
	const size = 1000
	_, srv := startLiar(t, sftpd.WithEndlessFile("endless.pgp", size))
	d := dial(t, srv.cfg)
	entries, _, err := d.List(context.Background(), srv.remote("pull"))
	if err != nil || len(entries) != 1 || entries[0].Size != size {
		t.Fatalf("List = %+v, %v; want endless.pgp at %d bytes", entries, err, size)
	}
	var w countingWriter
	n, err := d.DownloadListed(context.Background(), srv.remote("pull"), entries[0], &w)
	if !errors.Is(err, ErrChanged) || !IsPermanent(err) || w.n > size || n > size {
		t.Fatalf("DownloadListed of an endless file = %d bytes (%d written), %v; want at most %d and ErrChanged", n, w.n, err, size)
	}
	d = dial(t, srv.cfg)
	w = countingWriter{}
	if n, err := d.Download(context.Background(), srv.remote("pull"), "endless.pgp", &w); !errors.Is(err, ErrSize) || w.n > size {
		t.Fatalf("Download of an endless file = %d bytes (%d written), %v; want at most %d and ErrSize", n, w.n, err, size)
	}
}

// TestListStopsAtTheCap: a listing without end is read page by page and
// reading stops after MaxScanned entries; the heap stays small.
func TestListStopsAtTheCap(t *testing.T) {
	liar, srv := startLiar(t, sftpd.WithLongListing(-1))
	writeLocal(t, srv.local("pull", "real.pgp"), []byte("x"))
	d := dial(t, srv.cfg)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	entries, skipped, err := d.List(context.Background(), srv.remote("pull"))
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name != "real.pgp" {
		t.Errorf("entries = %+v, want real.pgp only", entries)
	}
	if len(skipped) == 0 || !strings.Contains(skipped[len(skipped)-1].Reason, "reading stopped after") {
		t.Errorf("skipped = %+v, want the cut reported", skipped)
	}
	// The server sends pages of up to 100 entries; one page may be in flight.
	if served := liar.Listed(); served > MaxScanned+200 {
		t.Errorf("the server sent %d entries, want at most %d", served, MaxScanned+200)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("listing %d entries allocated %d KiB in all; heap in use %d KiB after", liar.Listed(), alloc>>10, after.HeapInuse>>10)
	if after.HeapInuse > before.HeapInuse+64<<20 {
		t.Errorf("heap in use grew from %d to %d bytes", before.HeapInuse, after.HeapInuse)
	}
}
