package exchange_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/sealpost/sealpost/exchange"
	"github.com/sealpost/sealpost/exchange/audit"
)

// smallDisk mounts a tmpfs of size (mount's syntax: "2m") over dir, for the
// disk-full tests. It needs root: without it the test is skipped, except
// under CI, where it fails. The returned function resizes the tmpfs (to
// free space).
func smallDisk(t *testing.T, dir, size string) func(size string) {
	t.Helper()
	unable := func(why string) {
		if os.Getenv("CI") != "" {
			t.Fatalf("disk-full test: %s (CI must run the tests as root)", why)
		}
		t.Skipf("disk-full test skipped: %s (run as root, as CI does)", why)
	}
	if os.Geteuid() != 0 {
		unable("mounting a small tmpfs needs root")
	}
	must(t, os.MkdirAll(dir, 0o700))
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		unable("mount tmpfs on " + dir + ": " + err.Error())
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return func(size string) {
		t.Helper()
		must(t, syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT, "size="+size+",mode=0700"))
	}
}

// onSmallDisk puts side s's whole state folder (or the part under sub) on
// a fresh tmpfs of size and restarts its engine there.
func (w *world) onSmallDisk(t *testing.T, s *side, sub, size string) func(string) {
	t.Helper()
	s.eng.Close()
	resize := smallDisk(t, filepath.Join(s.cfg.StateDir, sub), size)
	w.start(s)
	return resize
}

// fill takes all the free space of the exchange log's file system (dir).
// The log's last page may have room left, which no filler can take: it is
// first padded with records until any record the engine writes next needs
// a new page.
func fill(t *testing.T, dir string) {
	t.Helper()
	l, err := audit.Open(dir)
	must(t, err)
	defer l.Close()
	const page = 4096
	size := func() int64 {
		fi, err := os.Stat(filepath.Join(dir, "exchange.jsonl"))
		must(t, err)
		return fi.Size()
	}
	pad := func(n int64) {
		_, err := l.Append(audit.Record{Event: "test.pad", Outcome: "ok", Detail: strings.Repeat("x", int(n))})
		must(t, err)
	}
	before := size()
	pad(0)
	overhead := size() - before // a pad record's length without its detail
	for slack := page - size()%page; slack >= 120; slack = page - size()%page {
		n := slack - overhead - 60 // leaves 60 bytes: less than any record the engine writes
		if n < 0 {
			n += page
		}
		pad(n)
	}
	f, err := os.Create(filepath.Join(dir, "filler"))
	must(t, err)
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	f.Sync()
}

func wantNoSpace(t *testing.T, err error) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("run error %v, want one saying no space left on device", err)
	}
	t.Logf("run failed as it should: %v", err)
}

// noTemporaries fails if a temporary file was left behind in dir's tree.
func noTemporaries(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), ".") && d.Name() != ".lock" {
			t.Errorf("temporary file left behind: %s", p)
		}
		return nil
	})
}

// TestDiskFull fills the disk while sealing, downloading, filing and
// logging. Each run fails with an error that says so, loses nothing (the
// item stays claimed, the remote file stays on the drop until it is whole
// on local disk, a downloaded file waits in work/), leaves no half file
// visible, and the next run after space is freed finishes the work: every
// bundle filed once and receipted once.
func TestDiskFull(t *testing.T) {
	t.Parallel()
	t.Run("sealing", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, loopbackServer(t), "", us, uk)
		resize := w.onSmallDisk(t, w.sides[us], "", "2m")
		w.send(us, uk, "first", "", map[string]string{"one.txt": randomText(700 << 10)})
		w.send(us, uk, "second", "", map[string]string{"two.txt": randomText(700 << 10), "folder/three.txt": "x"})
		res := w.sides[us].eng.RunPartner(t.Context(), exchange.RunOptions{Partner: uk})
		wantNoSpace(t, res.Err)
		queued := len(names(t, w.sides[us].state("outbox", uk))) + len(names(t, w.sides[us].state("work", uk, "out")))
		if queued+res.Pushed != 2 {
			t.Fatalf("%d items queued or claimed, %d pushed: an item was lost", queued, res.Pushed)
		}
		for _, n := range w.drop(us, uk) {
			if strings.HasPrefix(n, ".") {
				t.Fatalf("half an upload left on the drop: %s", n)
			}
		}
		noTemporaries(t, w.sides[us].state("sent"))
		resize("16m")
		w.run(us, uk)
		w.run(uk, us)
		w.run(us, uk)
		checkExactlyOnce(t, w)
	})
	t.Run("downloading", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, loopbackServer(t), "", us, uk)
		resize := w.onSmallDisk(t, w.sides[uk], "", "1m")
		w.send(us, uk, "first", "", map[string]string{"one.txt": randomText(1500 << 10)})
		w.send(us, uk, "second", "", map[string]string{"two.txt": "small", "folder/three.txt": "x"})
		w.run(us, uk)
		res := w.sides[uk].eng.RunPartner(t.Context(), exchange.RunOptions{Partner: us})
		wantNoSpace(t, res.Err)
		if n := len(w.drop(us, uk)); n != 1 || res.Filed != 1 {
			t.Fatalf("filed %d, the drop holds %d files; want the big one still there, the small one filed", res.Filed, n)
		}
		if left := names(t, w.sides[uk].state("work", us, "in")); len(left) != 0 {
			t.Fatalf("work/in holds %v after a failed download", left)
		}
		noTemporaries(t, w.sides[uk].state("received"))
		resize("16m")
		w.run(uk, us)
		w.run(us, uk)
		checkExactlyOnce(t, w)
	})
	t.Run("filing", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, loopbackServer(t), "", us, uk)
		resize := w.onSmallDisk(t, w.sides[uk], "", "2500k")
		queueTwoBig(w) // 2 MiB each: one fits downloaded, not unpacked beside it
		w.run(us, uk)
		res := w.sides[uk].eng.RunPartner(t.Context(), exchange.RunOptions{Partner: us})
		wantNoSpace(t, res.Err)
		if res.Refused != 0 || len(names(t, w.sides[uk].state("quarantine", us))) != 0 {
			t.Fatalf("a full disk refused a good bundle: %d refused", res.Refused)
		}
		if n := len(names(t, w.sides[uk].state("work", us, "in"))) + len(w.drop(us, uk)); n != 2-res.Filed {
			t.Fatalf("filed %d; %d files downloaded or still on the drop: something was lost", res.Filed, n)
		}
		noTemporaries(t, w.sides[uk].state("inbox"))
		if left := names(t, w.sides[uk].state("work", us, "stage")); len(left) != 0 {
			t.Fatalf("staging folders left: %v", left)
		}
		resize("16m")
		w.run(uk, us)
		w.run(us, uk)
		checkExactlyOnce(t, w)
	})
	t.Run("logging/sender", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, loopbackServer(t), "", us, uk)
		resize := w.onSmallDisk(t, w.sides[us], "audit", "64k")
		queueTwo(w)
		fill(t, w.sides[us].state("audit"))
		res := w.sides[us].eng.RunPartner(t.Context(), exchange.RunOptions{Partner: uk})
		wantNoSpace(t, res.Err)
		if res.Pushed != 0 {
			t.Fatalf("%d uploads counted though none could be logged", res.Pushed)
		}
		claims := names(t, w.sides[us].state("work", uk, "out"))
		if queued := names(t, w.sides[us].state("outbox", uk)); len(claims)+len(queued) != 2 {
			t.Fatalf("%d claims and %d items left, want 2 in all: a step not logged is not done", len(claims), len(queued))
		}
		must(t, os.Remove(w.sides[us].state("audit", "filler")))
		resize("1m")
		w.run(us, uk)
		w.run(uk, us)
		w.run(us, uk)
		checkExactlyOnce(t, w)
	})
	t.Run("logging/receiver", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, loopbackServer(t), "", us, uk)
		resize := w.onSmallDisk(t, w.sides[uk], "audit", "64k")
		queueTwo(w)
		w.run(us, uk)
		fill(t, w.sides[uk].state("audit"))
		res := w.sides[uk].eng.RunPartner(t.Context(), exchange.RunOptions{Partner: us})
		wantNoSpace(t, res.Err)
		if res.Filed != 0 || len(w.inbox(uk, us)) != 0 {
			t.Fatalf("filed %d though nothing could be logged", res.Filed)
		}
		if n := len(w.drop(us, uk)) + len(names(t, w.sides[uk].state("work", us, "in"))); n < 2 {
			t.Fatalf("%d bundles on the drop or downloaded, want 2: something was lost", n)
		}
		must(t, os.Remove(w.sides[uk].state("audit", "filler")))
		resize("1m")
		w.run(uk, us)
		w.run(us, uk)
		checkExactlyOnce(t, w)
		if n := len(w.records(uk, audit.EvFiled)); n != 2 {
			t.Fatalf("%d bundle.filed records, want 2", n)
		}
	})
}
