package exchange_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealpost/sealpost/exchange"
	"github.com/sealpost/sealpost/exchange/audit"
	"github.com/sealpost/sealpost/internal/testworld"
	"github.com/sealpost/sealpost/schedule"
)

// exchanged is a world where us-cbp sent uk-hmrc a request that was filed
// and answered with a receipt. It returns the world and the request's id.
func exchanged(t *testing.T) (*world, string) {
	w := newWorld(t, loopbackServer(t), "", "us-cbp", "uk-hmrc")
	w.send("us-cbp", "uk-hmrc", "CASE-7", "", map[string]string{"a.txt": "alpha"})
	w.run("us-cbp", "uk-hmrc")
	w.run("uk-hmrc", "us-cbp")
	w.run("us-cbp", "uk-hmrc")
	up := w.records("us-cbp", audit.EvUploaded)
	if len(up) != 1 {
		t.Fatalf("uploads %+v", up)
	}
	return w, up[0].Bundle
}

func TestCheckpointSignsTheHead(t *testing.T) {
	t.Parallel()
	w, _ := exchanged(t)
	us, uk := w.sides["us-cbp"], w.sides["uk-hmrc"]
	dir := us.state("audit")
	before, err := audit.Verify(dir)
	must(t, err)
	cp, err := us.eng.Checkpoint("")
	must(t, err)
	c, signed, path := cp.Statement, cp.Signed, cp.Path
	if c.Seq != before.HeadSeq || c.SHA256 != before.HeadSHA256 || c.Party != "us-cbp" {
		t.Errorf("checkpoint %+v of head %d %s", c, before.HeadSeq, before.HeadSHA256)
	}
	if filepath.Dir(path) != us.state("checkpoints") || !strings.HasPrefix(string(signed), "-----BEGIN PGP SIGNED MESSAGE-----") {
		t.Errorf("checkpoint at %s:\n%s", path, signed)
	}
	recs := w.records("us-cbp", audit.EvCheckpoint)
	if len(recs) != 1 || recs[0].File != filepath.Base(path) || !strings.Contains(recs[0].Detail, c.SHA256) {
		t.Errorf("log.checkpoint records %+v", recs)
	}
	got, err := exchange.VerifyCheckpoint(dir, signed, exchange.EngineKeys(us.eng).Self().Public(), "us-cbp")
	if err != nil || got != c {
		t.Fatalf("VerifyCheckpoint = %+v, %v", got, err)
	}
	_, err = exchange.VerifyCheckpoint(dir, signed, exchange.EngineKeys(uk.eng).Peer("us-cbp"), "uk-hmrc")
	if !errors.Is(err, exchange.ErrBadCheckpoint) {
		t.Errorf("another party's checkpoint: %v", err)
	}
	_, err = exchange.VerifyCheckpoint(dir, signed, exchange.EngineKeys(uk.eng).Self().Public(), "")
	if !errors.Is(err, exchange.ErrBadCheckpoint) {
		t.Errorf("checkpoint checked with another key: %v", err)
	}
	// Cut the log back before the checkpoint's head: the chain still
	// verifies, but the checkpoint proves the tail is gone.
	cutLog(t, dir, c.Seq-1)
	if _, err := audit.Verify(dir); err != nil {
		t.Fatalf("the cut log does not verify: %v", err)
	}
	_, err = exchange.VerifyCheckpoint(dir, signed, exchange.EngineKeys(us.eng).Self().Public(), "us-cbp")
	if !errors.Is(err, audit.ErrHeadMismatch) {
		t.Errorf("VerifyCheckpoint of a cut log = %v, want ErrHeadMismatch", err)
	}
}

// cutLog keeps the first n lines of the current log file.
func cutLog(t *testing.T, dir string, n int64) {
	t.Helper()
	path := filepath.Join(dir, audit.FileName)
	data, err := os.ReadFile(path)
	must(t, err)
	lines := strings.SplitAfter(string(data), "\n")
	must(t, os.WriteFile(path, []byte(strings.Join(lines[:n], "")), 0o600))
}

func TestGnuPGVerifiesCheckpoint(t *testing.T) {
	t.Parallel()
	requireGnuPG(t)
	w, _ := exchanged(t)
	us, uk := w.sides["us-cbp"], w.sides["uk-hmrc"]
	cp, err := us.eng.Checkpoint("")
	must(t, err)
	path := cp.Path
	g := newGnuPG(t, uk, us)
	status := g.gpg("--status-fd", "1", "--verify", path)
	if !strings.Contains(status, "[GNUPG:] VALIDSIG ") || !strings.Contains(strings.ToLower(status), us.fp) {
		t.Errorf("gpg --verify %s:\n%s", path, status)
	}
}

func TestStoryOfAnExchange(t *testing.T) {
	t.Parallel()
	w, id := exchanged(t)
	events := func(side string) string {
		s, err := audit.StoryOf(w.sides[side].state("audit"), id)
		must(t, err)
		var out []string
		for _, r := range s.Records {
			out = append(out, r.Event)
			if r.Event == audit.EvFiled && (r.PeerLogHead == nil || r.PeerLogHead.Seq == 0) {
				t.Errorf("filed record without the sender's log head: %+v", r)
			}
		}
		return strings.Join(out, " ")
	}
	if got, want := events("us-cbp"), "bundle.queued bundle.claimed bundle.uploaded receipt.received"; got != want {
		t.Errorf("our story of %s: %s, want %s", id, got, want)
	}
	if got, want := events("uk-hmrc"), "bundle.downloaded bundle.filed bundle.uploaded"; got != want {
		t.Errorf("the partner's story of %s: %s, want %s", id, got, want)
	}
}

func TestDaemonWritesCheckpoints(t *testing.T) {
	t.Parallel()
	w := newWorld(t, loopbackServer(t), "", "us-cbp", "uk-hmrc")
	us := w.sides["us-cbp"]
	f, err := os.OpenFile(us.cfgPath, os.O_APPEND|os.O_WRONLY, 0)
	must(t, err)
	_, err = f.WriteString("audit:\n  checkpoint: \"@every 1s\"\n  checkpoint_dir: proofs\n")
	must(t, err)
	must(t, f.Close())
	w.start(us)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- schedule.Run(ctx, us.eng, nil, nil) }()
	stop := sync.OnceValue(func() error { cancel(); return <-done })
	t.Cleanup(func() { stop() })
	proofs := filepath.Join(us.dir, "proofs")
	testworld.WaitFor(t, 10*time.Second, "two checkpoints", func() bool { return len(names(t, proofs)) >= 2 },
		func() string { return fmt.Sprintf("checkpoints: %v", names(t, proofs)) })
	must(t, stop())
	files := names(t, proofs)
	data, err := os.ReadFile(filepath.Join(proofs, files[len(files)-1]))
	must(t, err)
	if _, err := exchange.VerifyCheckpoint(us.state("audit"), data, exchange.EngineKeys(us.eng).Self().Public(), "us-cbp"); err != nil {
		t.Errorf("the daemon's checkpoint: %v", err)
	}
}
