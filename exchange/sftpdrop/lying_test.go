package sftpdrop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/exchange/drop"
	"github.com/sealpost/sealpost/internal/sftpd"
	"github.com/sealpost/sealpost/internal/testworld"
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
	t.Parallel()
	const size = 1000
	_, srv := startLiar(t, sftpd.WithEndlessFile("endless.pgp", size))
	d := dial(t, srv.cfg)
	entries, _, err := d.List(context.Background(), srv.remote("pull"))
	if err != nil || len(entries) != 1 || entries[0].Size != size {
		t.Fatalf("List = %+v, %v; want endless.pgp at %d bytes", entries, err, size)
	}
	var w countingWriter
	n, err := d.DownloadListed(context.Background(), srv.remote("pull"), entries[0], &w)
	if !errors.Is(err, drop.ErrChanged) || !drop.IsPermanent(err) || w.n > size || n > size {
		t.Fatalf("DownloadListed of an endless file = %d bytes (%d written), %v; want at most %d and drop.ErrChanged", n, w.n, err, size)
	}
	d = dial(t, srv.cfg)
	w = countingWriter{}
	if n, err := d.Download(context.Background(), srv.remote("pull"), "endless.pgp", &w); !errors.Is(err, drop.ErrSize) || w.n > size {
		t.Fatalf("Download of an endless file = %d bytes (%d written), %v; want at most %d and drop.ErrSize", n, w.n, err, size)
	}
}

// TestListStopsAtTheCap: a listing without end is read page by page and
// reading stops after drop.MaxScanned entries; the heap stays small.
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
	if served := liar.Listed(); served > drop.MaxScanned+200 {
		t.Errorf("the server sent %d entries, want at most %d", served, drop.MaxScanned+200)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("listing %d entries allocated %d KiB in all; heap in use %d KiB after", liar.Listed(), alloc>>10, after.HeapInuse>>10)
	if after.HeapInuse > before.HeapInuse+64<<20 {
		t.Errorf("heap in use grew from %d to %d bytes", before.HeapInuse, after.HeapInuse)
	}
}

// TestListPeakRSS lists a folder without end from a child process and
// reads the child's peak resident memory (VmHWM) from the kernel: it stays under
// 64 MiB (the library's ReadDir grew to 1.1 GiB and on); under the race
// detector, whose shadow memory multiplies it, under 4 × 64 MiB.
func TestListPeakRSS(t *testing.T) {
	if env := os.Getenv("SEALPOST_LIST_CHILD"); env != "" {
		var cfg Config
		if err := json.Unmarshal([]byte(env), &cfg); err != nil {
			t.Fatal(err)
		}
		d := dial(t, cfg)
		if _, _, err := d.List(context.Background(), "/pull"); err != nil {
			t.Fatal(err)
		}
		testworld.PrintPeakRSS(t)
		return
	}
	liar, srv := startLiar(t, sftpd.WithLongListing(-1))
	env, err := json.Marshal(srv.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestListPeakRSS$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SEALPOST_LIST_CHILD="+string(env))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	peak := testworld.ChildPeakRSS(t, out)
	t.Logf("peak RSS of a process listing a folder without end: %d MiB (the server sent %d entries)", peak>>20, liar.Listed())
	if limit := int64(64<<20) * rssAllowance; peak > limit {
		t.Errorf("peak RSS %d MiB, want under %d MiB", peak>>20, limit>>20)
	}
}

// TestDownloadOfAnImpossibleSize: a server that lists (and stats) a file
// at a negative size, or at the largest size there is, crashes nothing: a
// negative size is refused with nothing read, the largest one is read
// until the download's deadline.
func TestDownloadOfAnImpossibleSize(t *testing.T) {
	t.Parallel()
	for _, size := range []int64{-1, -1 << 62, 1<<63 - 1} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			_, srv := startLiar(t, sftpd.WithEndlessFile("endless.pgp", size))
			d := dial(t, srv.cfg)
			entries, _, err := d.List(context.Background(), srv.remote("pull"))
			if err != nil || len(entries) != 1 {
				t.Fatalf("List = %+v, %v; want endless.pgp", entries, err)
			}
			try := func(name string, download func(context.Context, io.Writer) error) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				var w countingWriter
				err := download(ctx, &w)
				if err == nil || (size < 0 && w.n > 0) {
					t.Errorf("%s of a file at %d bytes: %d bytes written, %v; want refused", name, size, w.n, err)
				}
			}
			try("DownloadListed", func(ctx context.Context, w io.Writer) error {
				_, err := d.DownloadListed(ctx, srv.remote("pull"), entries[0], w)
				return err
			})
			d = dial(t, srv.cfg)
			try("Download", func(ctx context.Context, w io.Writer) error {
				_, err := d.Download(ctx, srv.remote("pull"), "endless.pgp", w)
				return err
			})
		})
	}
}

// TestListStopsAmongEndlessDots: a listing that goes on with "." and ".."
// entries without end (which List does not report, so they were never
// counted) stops after drop.MaxScanned entries of any name.
func TestListStopsAmongEndlessDots(t *testing.T) {
	t.Parallel()
	liar, srv := startLiar(t, sftpd.WithEndlessDots())
	writeLocal(t, srv.local("pull", "real.pgp"), []byte("x"))
	d := dial(t, srv.cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	entries, skipped, err := d.List(ctx, srv.remote("pull"))
	if err != nil {
		t.Fatalf("List: %v (the server sent %d entries)", err, liar.Listed())
	}
	if len(entries) != 1 || len(skipped) == 0 || !strings.Contains(skipped[len(skipped)-1].Reason, "reading stopped after") {
		t.Errorf("entries = %+v, skipped = %+v; want real.pgp and the cut reported", entries, skipped)
	}
	if served := liar.Listed(); served > drop.MaxScanned+200 {
		t.Errorf("the server sent %d entries, want at most %d", served, drop.MaxScanned+200)
	}
}
