package exchange_test

import (
	"bytes"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sealpost/sealpost/exchange"
)

// TestSendRefusesLinksSwappedIn races `send` against a local user who
// swaps, again and again, a file of the PATH being sent for a symbolic link
// to our secret key, and a folder for a link to the keys folder. Before
// safeopen the copy followed the link within a few tries and the secret key
// went into the outbox; now no try may copy a byte of it, whatever the
// timing: each send either copies the plain files or refuses.
func TestSendRefusesLinksSwappedIn(t *testing.T) {
	w := newWorld(t, loopbackServer(t), "", us, uk)
	key := w.sides[us].cfg.Identity.PrivateKey
	secret, err := os.ReadFile(key)
	must(t, err)
	src := filepath.Join(t.TempDir(), "case")
	plain := bytes.Repeat([]byte("an ordinary line of the case file\n"), 2000)
	for _, rel := range []string{"report.txt", "annex/a.txt", "annex/b.txt"} {
		p := filepath.Join(src, rel)
		must(t, os.MkdirAll(filepath.Dir(p), 0o700))
		must(t, os.WriteFile(p, plain, 0o600))
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var swaps atomic.Int64
	wg.Add(1)
	go func() { // the local attacker
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := errors.Join(swapIn(filepath.Join(src, "report.txt"), key),
				swapIn(filepath.Join(src, "annex"), filepath.Dir(key))); err != nil {
				t.Error(err)
				return
			}
			swaps.Add(1)
		}
	}()
	stopAttack := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopAttack()
	const tries = 150
	var sent, refused int
	for range tries {
		item, err := w.sides[us].eng.Send(t.Context(), exchange.SendRequest{To: uk, Paths: []string{src}})
		if err != nil {
			var ce *exchange.RequestError
			if !errors.As(err, &ce) {
				t.Fatalf("send failed other than by refusing: %v", err)
			}
			refused++
			continue
		}
		sent++
		itemDir := w.sides[us].state("outbox", uk, item)
		must(t, filepath.WalkDir(itemDir, func(p string, d fs.DirEntry, err error) error {
			must(t, err)
			if d.Type().IsRegular() {
				data, err := os.ReadFile(p)
				must(t, err)
				if bytes.Contains(data, secret[:200]) || bytes.Contains(data, []byte("PRIVATE KEY")) {
					t.Fatalf("try %d: the secret key was copied into the outbox as %s", sent+refused, p)
				}
			}
			return nil
		}))
		must(t, os.RemoveAll(itemDir))
	}
	stopAttack()
	t.Logf("%d tries against %d swaps: %d sent plain files, %d refused", tries, swaps.Load(), sent, refused)
	if refused == 0 {
		t.Errorf("no send out of %d met a swapped link; the race was not run", tries)
	}
}

// swapIn replaces path by a symbolic link to target and puts it back, each
// step by an atomic rename, as an attacker would.
func swapIn(path, target string) error {
	link, moved := path+".link", path+".real"
	if err := os.Symlink(target, link); err != nil {
		return err
	}
	if err := os.Rename(path, moved); err != nil {
		return err
	}
	if err := os.Rename(link, path); err != nil {
		return err
	}
	time.Sleep(20 * time.Microsecond)
	if err := os.Remove(path); err != nil {
		return err
	}
	if err := os.Rename(moved, path); err != nil {
		return err
	}
	time.Sleep(20 * time.Microsecond)
	return nil
}

// TestOutboxFolderRefusesLinksAtAnyDepth: an outbox folder holding, at any
// depth, a hard-linked file (to our secret key, or to another file of the
// folder), a symbolic link, a named pipe or a socket is never sent: it goes
// to failed/ with a reason naming what is wrong, and nothing of it reaches
// the drop. A plain folder beside them is sent.
func TestOutboxFolderRefusesLinksAtAnyDepth(t *testing.T) {
	t.Parallel()
	w := newWorld(t, loopbackServer(t), "", us, uk)
	out := w.sides[us].state("outbox", uk)
	key := w.sides[us].cfg.Identity.PrivateKey
	item := func(name string, plant func(dir string), rel string) {
		dir := filepath.Join(out, name)
		for _, f := range []string{"READY", "doc.txt", "a/b/doc.txt"} {
			p := filepath.Join(dir, f)
			must(t, os.MkdirAll(filepath.Dir(p), 0o700))
			must(t, os.WriteFile(p, []byte("plain"), 0o600))
		}
		if plant != nil {
			p := filepath.Join(dir, rel)
			must(t, os.MkdirAll(filepath.Dir(p), 0o700))
			plant(p)
		}
	}
	items := map[string]string{ // item → what its reason must name
		"hard-top":     "hard links",
		"hard-deep":    "hard links",
		"hard-inside":  "hard links",
		"symlink-deep": "symbolic link",
		"fifo-deep":    "named pipe",
		"socket-deep":  "socket",
	}
	item("plain", nil, "")
	item("hard-top", func(p string) { must(t, os.Link(key, p)) }, "key.asc")
	item("hard-deep", func(p string) { must(t, os.Link(key, p)) }, "a/b/c/key.asc")
	item("hard-inside", func(p string) { must(t, os.Link(filepath.Join(out, "hard-inside", "doc.txt"), p)) }, "a/b/copy.txt")
	item("symlink-deep", func(p string) { must(t, os.Symlink(key, p)) }, "a/b/c/key.asc")
	item("fifo-deep", func(p string) { must(t, syscall.Mkfifo(p, 0o600)) }, "a/b/fifo")
	item("socket-deep", func(p string) {
		l, err := net.Listen("unix", p)
		must(t, err)
		t.Cleanup(func() { l.Close() })
	}, "a/sock")

	res := w.run(us, uk)
	if res.Pushed != 1 || res.Failed != len(items) {
		t.Fatalf("pushed %d, failed %d; want 1 (plain) and %d", res.Pushed, res.Failed, len(items))
	}
	for name, want := range items {
		var rj struct{ Reason string }
		readJSONFile(t, w.sides[us].state("failed", uk, name+".reason.json"), &rj)
		if !strings.Contains(rj.Reason, want) {
			t.Errorf("reason for %s: %q, want it to name %q", name, rj.Reason, want)
		}
	}
	if left := w.drop(us, uk); len(left) != 1 {
		t.Fatalf("the drop holds %v, want the plain folder's bundle only", left)
	}
	w.run(uk, us)
	if in := w.inbox(uk, us); len(in) != 1 || in[0].Reference != "plain" {
		t.Fatalf("the partner's inbox holds %+v", in)
	}
}

// TestLockRefusesALink: a partner's lock file that is a symbolic link is
// refused, not opened and truncated: the run fails and the link's target
// keeps its bytes.
func TestLockRefusesALink(t *testing.T) {
	t.Parallel()
	w := newWorld(t, loopbackServer(t), "", us, uk)
	victim := filepath.Join(t.TempDir(), "victim")
	must(t, os.WriteFile(victim, []byte("precious"), 0o600))
	lock := w.sides[us].state("locks", uk+".lock")
	must(t, os.MkdirAll(filepath.Dir(lock), 0o700))
	os.Remove(lock)
	must(t, os.Symlink(victim, lock))
	res := w.sides[us].eng.RunPartner(t.Context(), exchange.RunOptions{Partner: uk})
	if res.Err == nil {
		t.Fatal("a run took a lock through a symbolic link")
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Fatalf("the link's target now holds %q", b)
	}
}
