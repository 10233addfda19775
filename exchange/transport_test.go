package exchange_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/exchange"
	"github.com/sealpost/sealpost/exchange/audit"
	"github.com/sealpost/sealpost/exchange/bundle"
	"github.com/sealpost/sealpost/exchange/drop"
	"github.com/sealpost/sealpost/internal/sftpd"
)

// sealed has us send one bundle to uk and returns its name on the drop
// and its bytes, taken off the drop.
func sealed(t *testing.T, w *world, body string) (string, []byte) {
	t.Helper()
	w.send(us, uk, "transport", "", map[string]string{"a.txt": body})
	w.run(us, uk)
	name := w.drop(us, uk)[0]
	path := filepath.Join(w.srv.root, us+"-to-"+uk, name)
	data, err := os.ReadFile(path)
	must(t, err)
	must(t, os.Remove(path))
	return name, data
}

// TestSlowUploadUnderTheFinalName: a partner uploads its bundle under the
// final name (a plain `sftp put`), slowly. The run in the middle of it
// takes nothing and removes nothing; once the upload ends, the bundle is
// filed whole.
func TestSlowUploadUnderTheFinalName(t *testing.T) {
	w := newWorld(t, loopbackServer(t), "pull_settle: 1s", us, uk)
	name, data := sealed(t, w, strings.Repeat("payload line\n", 50000))
	path := filepath.Join(w.srv.root, us+"-to-"+uk, name)
	f, err := os.Create(path)
	must(t, err)
	defer f.Close()
	half := len(data) / 2
	_, err = f.Write(data[:half])
	must(t, err)

	// The upload goes on, a few bytes every 20ms, while uk runs.
	stop, stopped := make(chan struct{}), make(chan int)
	go func() {
		at := half
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				stopped <- at
				return
			case <-tick.C:
			}
			if at < len(data)-1 {
				n, _ := f.Write(data[at : at+1])
				at += n
			}
		}
	}()
	res := w.sides[uk].eng.RunPartner(t.Context(), exchange.RunOptions{Partner: us, PullOnly: true})
	close(stop)
	at := <-stopped
	if res.Err != nil || res.Refused != 0 || res.Filed != 0 {
		t.Fatalf("run during the upload: filed %d, refused %d, err %v; want nothing taken", res.Filed, res.Refused, res.Err)
	}
	if q := names(t, w.sides[uk].state("quarantine", us)); len(q) != 0 {
		t.Fatalf("quarantine holds %v", q)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the file being uploaded was removed from the drop: %v", err)
	}

	// The upload ends; the next run takes the bundle, whole.
	_, err = f.Write(data[at:])
	must(t, err)
	must(t, f.Close())
	res = w.run(uk, us)
	if res.Filed != 1 || res.Refused != 0 {
		t.Fatalf("run after the upload: filed %d, refused %d; want the bundle filed", res.Filed, res.Refused)
	}
	kept, err := os.ReadFile(w.sides[uk].state("received", us, name))
	must(t, err)
	if !bytes.Equal(kept, data) {
		t.Fatalf("received/ holds %d bytes, the partner uploaded %d", len(kept), len(data))
	}
	if left := w.records(uk, "remote.skipped"); len(left) == 0 || !strings.Contains(left[0].Detail, "still changing") {
		t.Errorf("remote.skipped records %+v, want the file left as still changing", left)
	}
}

// TestChangedFileNotRemoved: with pull_settle 0s a half-uploaded bundle
// is taken and refused, but the partner writes on before it would be
// removed from the drop: it stays, and arrives whole on the next run.
func TestChangedFileNotRemoved(t *testing.T) {
	w := newWorld(t, loopbackServer(t), "", us, uk)
	name, data := sealed(t, w, strings.Repeat("payload line\n", 1000))
	path := filepath.Join(w.srv.root, us+"-to-"+uk, name)
	half := len(data) / 2
	must(t, os.WriteFile(path, data[:half], 0o644))
	written := false
	exchange.OnStep(t, func(step string) {
		if step == "pull.downloaded" && !written {
			written = true
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			must(t, err)
			_, err = f.Write(data[half:])
			must(t, errors.Join(err, f.Close()))
		}
	})
	res := w.sides[uk].eng.RunPartner(t.Context(), exchange.RunOptions{Partner: us, PullOnly: true})
	if res.Refused != 1 {
		t.Fatalf("run over the half upload: refused %d, err %v; want the half refused", res.Refused, res.Err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the file the partner was still writing was removed from the drop: %v", err)
	}
	if res := w.run(uk, us); res.Filed != 1 {
		t.Fatalf("next run filed %d, want the whole bundle", res.Filed)
	}
	if left := w.drop(us, uk); len(left) != 0 {
		t.Errorf("drop still holds %v", left)
	}
}

// TestEvidenceNeverOverwritten: the same bundle comes again under its
// name with bytes appended. received/<p>/<name> still holds the bytes
// whose sha256 was logged when the bundle was filed; the second file is
// kept beside it (or in quarantine), never over it.
func TestEvidenceNeverOverwritten(t *testing.T) {
	w := newWorld(t, loopbackServer(t), "", us, uk)
	w.send(us, uk, "evidence", "", map[string]string{"a.txt": "evidence"})
	w.run(us, uk)
	name := w.drop(us, uk)[0]
	path := filepath.Join(w.srv.root, us+"-to-"+uk, name)
	data, err := os.ReadFile(path)
	must(t, err)
	if res := w.run(uk, us); res.Filed != 1 {
		t.Fatalf("first delivery filed %d", res.Filed)
	}
	filed := w.records(uk, audit.EvFiled)
	for _, extra := range []string{"appended", "appended again"} {
		must(t, os.WriteFile(path, append(bytes.Clone(data), extra...), 0o644))
		w.sides[uk].eng.RunPartner(t.Context(), exchange.RunOptions{Partner: us, PullOnly: true})
	}
	kept, err := os.ReadFile(w.sides[uk].state("received", us, name))
	must(t, err)
	sum := sha256.Sum256(kept)
	if len(filed) != 1 || hex.EncodeToString(sum[:]) != filed[0].SHA256 || !bytes.Equal(kept, data) {
		t.Fatalf("received/%s/%s no longer holds the bytes logged when it was filed (%d bytes, logged %+v)", us, name, len(kept), filed)
	}
	all := append(names(t, w.sides[uk].state("received", us)), names(t, w.sides[uk].state("quarantine", us))...)
	copies := 0
	for _, n := range all {
		if strings.HasPrefix(n, name) && !strings.HasSuffix(n, ".reason.json") {
			copies++
		}
	}
	if copies != 3 {
		t.Errorf("received/ and quarantine/ hold %v; want all three files kept", all)
	}
}

// TestLyingServerBoundedOnDisk: the server lists the partner's bundle at
// 1,000 bytes and serves bytes without end. The run reads 1,001 bytes,
// keeps nothing, removes nothing, and says why.
func TestLyingServerBoundedOnDisk(t *testing.T) {
	name := us + "_" + uk + "_request_" + bundle.NewID() + ".pgp"
	w := newWorld(t, lyingServer(t, sftpd.WithEndlessFile(name, 1000)), "", us, uk)
	res := w.sides[uk].eng.RunPartner(t.Context(), exchange.RunOptions{Partner: us, PullOnly: true})
	if res.Err != nil || res.Filed+res.Refused != 0 {
		t.Fatalf("run: filed %d, refused %d, err %v; want the file left", res.Filed, res.Refused, res.Err)
	}
	if n := stateBytes(t, w.sides[uk].state("work")); n > 0 {
		t.Errorf("work/ holds %d bytes after the run", n)
	}
	checkNothingFetched(t, w)
	left := w.records(uk, "remote.skipped")
	if len(left) != 1 || left[0].File != name || !strings.Contains(left[0].Detail, "more than the file's 1000 bytes") {
		t.Fatalf("remote.skipped records %+v, want %s left as changing", left, name)
	}
}

// stateBytes sums the sizes of the regular files under dir.
func stateBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	must(t, filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil || !de.Type().IsRegular() {
			return err
		}
		fi, err := de.Info()
		if err == nil {
			n += fi.Size()
		}
		return err
	}))
	return n
}

// TestDeadlines: a download that goes on past sftp.download_deadline (an
// oversized file listed at 1 GiB, served without end, hashed for its
// receipt) and a run that goes on past run_deadline are both stopped.
func TestDeadlines(t *testing.T) {
	t.Run("download", func(t *testing.T) {
		name := us + "_" + uk + "_request_" + bundle.NewID() + ".pgp"
		w := newWorld(t, lyingServer(t, sftpd.WithEndlessFile(name, 1<<30)), "limits:\n  max_bytes: 1MiB", us, uk)
		// A real bundle, dated after the endless file so that it comes
		// next: the connection the deadline closed is dialled again.
		w.send(us, uk, "after", "", map[string]string{"a.txt": "after the deadline"})
		if res := w.sides[us].eng.RunPartner(t.Context(), exchange.RunOptions{Partner: uk, PushOnly: true}); res.Err != nil || res.Pushed != 1 {
			t.Fatalf("push: %d, %v", res.Pushed, res.Err)
		}
		late := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		for _, n := range w.drop(us, uk) {
			must(t, os.Chtimes(filepath.Join(w.srv.root, us+"-to-"+uk, n), late, late))
		}
		setDownloadDeadline(t, w, "1s")
		res := w.sides[uk].eng.RunPartner(t.Context(), exchange.RunOptions{Partner: us, PullOnly: true})
		if !errors.Is(res.Err, drop.ErrDeadline) || !strings.Contains(res.Err.Error(), "sftp.download_deadline (1s)") {
			t.Fatalf("run error %v, want the download deadline", res.Err)
		}
		if res.Filed != 1 {
			t.Fatalf("filed %d after the deadline, want the next bundle filed (err %v)", res.Filed, res.Err)
		}
	})
	t.Run("run", func(t *testing.T) {
		w := newWorld(t, loopbackServer(t), "pull_settle: 20s\nrun_deadline: 1s", us, uk)
		w.send(us, uk, "waits", "", map[string]string{"a.txt": "waits"})
		w.run(us, uk)
		res := w.sides[uk].eng.RunPartner(t.Context(), exchange.RunOptions{Partner: us})
		if !errors.Is(res.Err, drop.ErrDeadline) || !strings.Contains(res.Err.Error(), "run_deadline (1s)") {
			t.Fatalf("run error %v, want the run deadline", res.Err)
		}
	})
}

// setDownloadDeadline sets sftp.download_deadline in uk's configuration
// and restarts its engine.
func setDownloadDeadline(t *testing.T, w *world, d string) {
	t.Helper()
	s := w.sides[uk]
	data, err := os.ReadFile(s.cfgPath)
	must(t, err)
	text := strings.Replace(string(data), "      timeout: 10s\n", "      timeout: 10s\n      download_deadline: "+d+"\n", 1)
	must(t, os.WriteFile(s.cfgPath, []byte(text), 0o600))
	w.start(s)
}

// plantDecoys puts n files on the drop from us to uk, named to sort first
// and dated 2001, with mode mode and the content data(i).
func plantDecoys(t *testing.T, w *world, n int, mode os.FileMode, data func(i int) string) {
	t.Helper()
	drop := filepath.Join(w.srv.root, us+"-to-"+uk)
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		p := filepath.Join(drop, fmt.Sprintf("0000-decoy-%02d.pgp", i))
		must(t, os.WriteFile(p, []byte(data(i)), mode))
		must(t, os.Chtimes(p, old, old))
	}
}

// TestDecoysDoNotStarveThePartner: someone else who can write to the
// drop keeps decoys there, named to sort first and dated long ago. The
// partner's bundle is taken first; each run refuses at most
// limits.max_refused decoys and leaves the rest; quarantine/ keeps at most
// limits.quarantine_files of them (the first), and logs the others.
func TestDecoysDoNotStarveThePartner(t *testing.T) {
	const decoys, budget, quota = 12, 5, 3
	w := newWorld(t, loopbackServer(t), "limits:\n  max_refused: 5\n  quarantine_files: 3", us, uk)
	w.send(us, uk, "real", "", map[string]string{"a.txt": "the partner's bundle"})
	w.run(us, uk)
	plantDecoys(t, w, decoys, 0o644, func(i int) string { return strings.Repeat("decoy ", 100+i) })
	var refused []int
	for run := 0; run < 3; run++ {
		res := w.sides[uk].eng.RunPartner(t.Context(), exchange.RunOptions{Partner: us, PullOnly: true})
		if run == 0 && res.Filed != 1 {
			t.Fatalf("first run filed %d, want the partner's bundle (err %v)", res.Filed, res.Err)
		}
		refused = append(refused, res.Refused)
		reasons := 0
		for _, n := range names(t, w.sides[uk].state("quarantine", us)) {
			if strings.HasSuffix(n, ".reason.json") {
				reasons++
			}
		}
		if reasons > quota {
			t.Fatalf("after run %d quarantine/ keeps %d refused files, more than the quota of %d", run+1, reasons, quota)
		}
	}
	if fmt.Sprint(refused) != fmt.Sprint([]int{budget, budget, decoys - 2*budget}) {
		t.Errorf("refused per run %v, want %d, %d, %d", refused, budget, budget, decoys-2*budget)
	}
	if left := w.drop(us, uk); len(left) != 0 {
		t.Errorf("drop still holds %v", left)
	}
	var order []string
	must(t, audit.Scan(w.sides[uk].state("audit"), func(r audit.Record) error {
		if r.Event == audit.EvFiled || r.Event == audit.EvRejected {
			order = append(order, r.Event)
		}
		return nil
	}))
	if len(order) != decoys+1 || order[0] != audit.EvFiled {
		t.Errorf("filed/rejected records in order %v, want the partner's bundle filed first and %d refusals", order, decoys)
	}
	unkept := 0
	for _, r := range w.records(uk, audit.EvRejected) {
		if strings.Contains(r.Detail, "not kept") {
			unkept++
		}
	}
	if unkept != decoys-quota {
		t.Errorf("%d refusals logged as not kept, want %d", unkept, decoys-quota)
	}
}

// TestUnreadableDecoysAreBudgeted: a third party who leaves files that
// the SFTP account may not read (mode 000), dated and named to be taken
// first, costs at most limits.max_refused download attempts (and failure
// records) per run, as decoys that are refused do; the partner's bundle
// is filed.
func TestUnreadableDecoysAreBudgeted(t *testing.T) {
	const decoys, budget = 12, 5
	w := newWorld(t, loopbackServer(t), "limits:\n  max_refused: 5", us, uk)
	w.send(us, uk, "real", "", map[string]string{"a.txt": "the partner's bundle"})
	w.run(us, uk)
	plantDecoys(t, w, decoys, 0o000, func(int) string { return "decoy" })
	attempts := func() int {
		n := 0
		for _, r := range w.records(uk, audit.EvDownloaded) {
			if strings.HasPrefix(r.File, "0000-decoy-") {
				n++
			}
		}
		return n
	}
	for run := 1; run <= 2; run++ {
		res := w.sides[uk].eng.RunPartner(t.Context(), exchange.RunOptions{Partner: us, PullOnly: true})
		if run == 1 && res.Filed != 1 {
			t.Fatalf("first run filed %d, want the partner's bundle (err %v)", res.Filed, res.Err)
		}
		if got := attempts(); got > run*budget {
			t.Fatalf("after run %d: %d download attempts of unreadable decoys, want at most %d per run", run, got, budget)
		}
	}
}

// TestCancelledRunStopsAtOnce: a run cancelled while its upload is stalled
// on the network returns at once with the cancellation, not when the
// watchdog (sftp.timeout, 10s in the test world) gives up on the stall;
// nothing half-uploaded is visible, and the next run finishes the work.
func TestCancelledRunStopsAtOnce(t *testing.T) {
	const watchdog = 10 * time.Second
	srv, p := proxied(t, true, false)
	w := newWorld(t, srv, "", us, uk)
	queueTwoBig(w)
	p.SetBudget(3 << 20) // the first bundle passes, the second stalls
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan exchange.Result, 1)
	go func() { done <- w.sides[us].eng.RunPartner(ctx, exchange.RunOptions{Partner: uk}) }()
	for deadline := time.Now().Add(time.Minute); p.Faults() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the stall never struck")
		}
	}
	start := time.Now()
	cancel()
	select {
	case res := <-done:
		if !errors.Is(res.Err, context.Canceled) {
			t.Fatalf("cancelled run: %v, want context.Canceled", res.Err)
		}
	case <-time.After(watchdog / 4):
		t.Fatalf("the cancelled run had not returned after %v (watchdog %v)", time.Since(start), watchdog)
	}
	checkNothingHalfVisible(t, w)
	p.SetBudget(-1)
	w.run(us, uk)
	w.run(uk, us)
	w.run(us, uk)
	checkExactlyOnce(t, w)
}
