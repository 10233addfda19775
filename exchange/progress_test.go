package exchange_test

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sealpost/sealpost/bundlefile"
	"github.com/sealpost/sealpost/exchange"
)

// recorder is a Progress that keeps every task's label, total and bytes.
type recorder struct {
	mu    sync.Mutex
	tasks []*recTask
}

type recTask struct {
	label    string
	total, n int64
	done     bool
	mu       *sync.Mutex
}

func (r *recorder) Start(label string, total int64) exchange.Task {
	t := &recTask{label: label, total: total, mu: &r.mu}
	r.mu.Lock()
	r.tasks = append(r.tasks, t)
	r.mu.Unlock()
	return t
}

func (t *recTask) Write(p []byte) (int, error) {
	t.mu.Lock()
	t.n += int64(len(p))
	t.mu.Unlock()
	return len(p), nil
}

func (t *recTask) Done() { t.mu.Lock(); t.done = true; t.mu.Unlock() }

// find returns the task whose label starts with prefix.
func (r *recorder) find(t *testing.T, prefix string) *recTask {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, x := range r.tasks {
		if strings.HasPrefix(x.label, prefix) {
			return x
		}
	}
	t.Fatalf("no task %q among %d", prefix, len(r.tasks))
	return nil
}

// TestProgress: queueing, pushing and pulling a bundle, and sealing and
// opening a bundle file, report their bytes to the engine's Progress.
func TestProgress(t *testing.T) {
	t.Parallel()
	w := newWorld(t, loopbackServer(t), "", "us-cbp", "uk-hmrc")
	us, uk := w.sides["us-cbp"], w.sides["uk-hmrc"]
	usRec, ukRec := &recorder{}, &recorder{}
	us.eng.SetProgress(usRec)
	uk.eng.SetProgress(ukRec)
	body := strings.Repeat("x", 300<<10)
	w.send("us-cbp", "uk-hmrc", "BIG", "", map[string]string{"big.bin": body})
	w.run("us-cbp", "uk-hmrc")
	w.run("uk-hmrc", "us-cbp")
	for _, c := range []struct {
		rec    *recorder
		prefix string
	}{{usRec, "queue BIG"}, {usRec, "push us-cbp_uk-hmrc_request_"}, {ukRec, "pull us-cbp_uk-hmrc_request_"}} {
		task := c.rec.find(t, c.prefix)
		if !task.done || task.n < int64(len(body)) || task.total < int64(len(body)) {
			t.Errorf("task %s: %+v, want done with at least %d bytes of about as many", c.prefix, *task, len(body))
		}
	}

	rec := &recorder{}
	src := filepath.Join(t.TempDir(), "big.bin")
	must(t, os.WriteFile(src, []byte(body), 0o600))
	out := filepath.Join(t.TempDir(), "b.pgp")
	_, _, err := bundlefile.SealFile(t.Context(), us.cfg, exchange.EngineKeys(us.eng), exchange.SendRequest{To: "uk-hmrc", Paths: []string{src}}, bundlefile.SealOptions{Output: out, Progress: rec})
	must(t, err)
	_, err = bundlefile.OpenFile(t.Context(), uk.cfg, exchange.EngineKeys(uk.eng), out, t.TempDir(), bundlefile.OpenOptions{From: "us-cbp", Progress: rec})
	must(t, err)
	for _, prefix := range []string{"seal b.pgp", "open b.pgp"} {
		if task := rec.find(t, prefix); !task.done || task.n < int64(len(body)) {
			t.Errorf("task %s: %+v", prefix, *task)
		}
	}
}
