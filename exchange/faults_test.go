package exchange_test

import (
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/sealpost/sealpost/exchange"
	"github.com/sealpost/sealpost/exchange/audit"
	"github.com/sealpost/sealpost/internal/faultproxy"
	"github.com/sealpost/sealpost/internal/sftpd"
)

// proxied starts the in-process server behind a fault proxy: the world's
// parties reach it only through the proxy (its address is in their
// known_hosts).
func proxied(t testing.TB, stall, heal bool) (server, *faultproxy.Proxy) {
	t.Helper()
	mode := faultproxy.Cut
	if stall {
		mode = faultproxy.Stall
	}
	return proxiedMode(t, mode, heal)
}

// proxiedMode is proxied with any fault mode.
func proxiedMode(t testing.TB, mode faultproxy.Mode, heal bool) (server, *faultproxy.Proxy) {
	t.Helper()
	srv := loopbackServer(t)
	p := faultproxy.Start(t, srv.addr, mode)
	if heal {
		p.HealAfterFault()
	}
	line, err := os.ReadFile(srv.knownHosts)
	must(t, err)
	fields := strings.Fields(string(line))
	kh := filepath.Join(t.TempDir(), "known_hosts")
	must(t, os.WriteFile(kh, []byte(knownhosts.Normalize(p.Addr())+" "+strings.Join(fields[1:], " ")+"\n"), 0o600))
	srv.addr, srv.knownHosts = p.Addr(), kh
	return srv, p
}

// shortTimeout sets every partner's sftp timeout to 1s, so that a stall is
// noticed quickly.
func (w *world) shortTimeout(s *side) {
	w.t.Helper()
	data, err := os.ReadFile(s.cfgPath)
	must(w.t, err)
	must(w.t, os.WriteFile(s.cfgPath, []byte(strings.ReplaceAll(string(data), "timeout: 10s", "timeout: 1s")), 0o600))
	w.start(s)
}

// randomText is n bytes that do not compress.
func randomText(n int) string {
	b := make([]byte, n/2)
	rand.Read(b)
	const hex = "0123456789abcdef"
	out := make([]byte, 0, n)
	for _, c := range b {
		out = append(out, hex[c>>4], hex[c&15])
	}
	return string(out)
}

// queueTwoBig queues two requests of 2 MiB each from us to uk.
func queueTwoBig(w *world) {
	w.send(us, uk, "first", "", map[string]string{"one.txt": randomText(2 << 20)})
	w.send(us, uk, "second", "", map[string]string{"two.txt": randomText(2 << 20), "folder/three.txt": "attached"})
}

// TestNetworkFaults cuts or stalls the connection in the middle of an
// upload and of a download. A fault that heals is retried within the run,
// which succeeds; a fault that lasts fails the run (nothing claimed is
// lost, nothing half-uploaded is visible under a final name), and the next
// run finishes the work. Either way every bundle ends up filed once and
// receipted once, and no drop keeps anything.
func TestNetworkFaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		mode, side string
		heal       bool
	}{
		{"cut", "upload", true}, {"cut", "upload", false}, {"cut", "download", true}, {"cut", "download", false},
		{"stall", "upload", true}, {"stall", "download", false},
	}
	for _, c := range cases {
		mode, side, heal := c.mode, c.side, c.heal
		{
			{
				name := mode + "/" + side + "/retried-in-the-run"
				if !heal {
					name = mode + "/" + side + "/finished-by-the-next-run"
				}
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					srv, p := proxied(t, mode == "stall", heal)
					w := newWorld(t, srv, "", us, uk)
					w.shortTimeout(w.sides[us])
					w.shortTimeout(w.sides[uk])
					queueTwoBig(w)
					runner, peer := us, uk
					if side == "download" {
						w.run(us, uk)
						runner, peer = uk, us
					}
					p.SetBudget(3 << 20) // the first bundle passes, the second is hit
					res := w.sides[runner].eng.RunPartner(t.Context(), exchange.RunOptions{Partner: peer})
					if p.Faults() == 0 {
						t.Fatalf("the fault never struck (run: %v)", res.Err)
					}
					if heal && res.Err != nil {
						t.Fatalf("a fault that heals must be retried within the run: %v", res.Err)
					}
					if !heal {
						if res.Err == nil {
							t.Fatal("the run succeeded through a lasting fault")
						}
						t.Logf("run failed as it should: %v", res.Err)
						checkNothingHalfVisible(t, w)
						p.SetBudget(-1)
						w.run(runner, peer)
					}
					if side == "upload" {
						w.run(uk, us)
					}
					w.run(us, uk)
					checkExactlyOnce(t, w)
				})
			}
		}
	}
}

// TestAbandonedUploadNeverReachesItsRetry: the requests of a connection
// the client has given up on can still reach the server after the retry
// on a new connection (held in the network, in sshd's pipe to sftp-server,
// queued in a slow server). Both pushes stall mid-upload; each is retried
// within the run on a new connection and published; only then do the
// abandoned writes reach the server. Each bundle must arrive as published,
// not overwritten in part by the stale bytes of its first attempt.
func TestAbandonedUploadNeverReachesItsRetry(t *testing.T) {
	t.Parallel()
	srv, p := proxiedMode(t, faultproxy.Late, true)
	w := newWorld(t, srv, "", us, uk)
	w.shortTimeout(w.sides[us])
	w.shortTimeout(w.sides[uk])
	queueTwoBig(w)
	p.SetBudget(1 << 20) // login, then the middle of the first 2 MiB of writes
	w.run(us, uk)
	if p.Faults() == 0 {
		t.Fatal("the fault never struck")
	}
	p.Release()
	w.run(uk, us)
	w.run(us, uk)
	checkExactlyOnce(t, w)
}

// checkNothingHalfVisible: after a failed run, every final name on a drop
// is a complete bundle, every queued item is in the outbox or claimed, and
// the receiver has filed nothing it has not got whole.
func checkNothingHalfVisible(t *testing.T, w *world) {
	t.Helper()
	for _, n := range w.drop(us, uk) {
		if strings.HasPrefix(n, ".") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(w.srv.root, us+"-to-"+uk, n))
		must(t, err)
		sent, err := os.ReadFile(w.sides[us].state("sent", uk, strings.Split(strings.TrimSuffix(n, ".pgp"), "_")[3]+".pgp"))
		if err != nil || string(sent) != string(data) {
			t.Fatalf("%s is on the drop under its final name but is not the bundle sent (%v)", n, err)
		}
	}
	queued := len(names(t, w.sides[us].state("outbox", uk))) + len(names(t, w.sides[us].state("work", uk, "out")))
	if queued+len(w.records(us, audit.EvUploaded)) < 2 {
		t.Fatalf("an item was lost: %d queued or claimed, %d uploaded", queued, len(w.records(us, audit.EvUploaded)))
	}
}

// TestRenameRefused: a server that refuses the rename of a finished upload
// fails the push (the item stays claimed, its bundle in sent/, nothing
// visible under a final name), and the push finishes once the server
// allows it.
func TestRenameRefused(t *testing.T) {
	t.Parallel()
	root, keys := t.TempDir(), t.TempDir()
	refusing, err := sftpd.Start(root, keys, sftpd.WithRefuseRename())
	must(t, err)
	srv := server{name: "sftpd", addr: refusing.Addr, user: "sealpost", clientKey: refusing.ClientKey,
		knownHosts: refusing.KnownHosts, root: refusing.Root}
	w := newWorld(t, srv, "", us, uk)
	queueTwo(w)
	res := w.sides[us].eng.RunPartner(t.Context(), exchange.RunOptions{Partner: uk})
	if res.Err == nil || res.Pushed != 0 {
		t.Fatalf("pushed %d (err %v) through a server refusing renames", res.Pushed, res.Err)
	}
	t.Logf("push failed as it should: %v", res.Err)
	if left := w.drop(us, uk); len(left) != 0 {
		t.Fatalf("the drop holds %v after refused renames, want nothing", left)
	}
	if claims := names(t, w.sides[us].state("work", uk, "out")); len(claims) != 2 {
		t.Fatalf("%d claims left, want both items still claimed", len(claims))
	}
	refusing.Close()

	// The same server (same keys, same folders) now allows renames.
	fixed, err := sftpd.Start(root, keys)
	must(t, err)
	t.Cleanup(func() { fixed.Close() })
	for _, s := range w.sides {
		data, err := os.ReadFile(s.cfgPath)
		must(t, err)
		must(t, os.WriteFile(s.cfgPath, []byte(strings.ReplaceAll(string(data), refusing.Addr, fixed.Addr)), 0o600))
		w.start(s)
	}
	w.run(us, uk)
	w.run(uk, us)
	w.run(us, uk)
	checkExactlyOnce(t, w)
}

// TestTwoRunsAtOnce starts two real processes for the same partner at the
// same moment, several times over, on both sides: each either does the
// work or exits 3 (another run holds the lock), and nothing is pushed,
// filed or receipted twice.
func TestTwoRunsAtOnce(t *testing.T) {
	t.Parallel()
	bin := crashBinary(t)
	w := newWorld(t, loopbackServer(t), "", us, uk)
	race := func(s *side, peer string) (codes [2]int) {
		var cmds [2]*exec.Cmd
		for i := range cmds {
			cmds[i] = exec.Command(bin, "--config", s.cfgPath, "run", "--partner", peer)
		}
		for _, c := range cmds {
			must(t, c.Start())
		}
		for i, c := range cmds {
			err := c.Wait()
			var ee *exec.ExitError
			switch {
			case err == nil:
			case errors.As(err, &ee) && ee.ExitCode() == 3:
				codes[i] = 3
			default:
				t.Fatalf("a racing run of %s failed: %v", s.id, err)
			}
		}
		return codes
	}
	locked := 0
	var refs []string
	for i := range 4 {
		ref := "race-" + string(rune('a'+i))
		refs = append(refs, ref)
		w.send(us, uk, ref, "", map[string]string{"big.txt": randomText(1 << 20)})
		a, b := race(w.sides[us], uk), race(w.sides[uk], us)
		for _, c := range append(a[:], b[:]...) {
			if c == 3 {
				locked++
			}
		}
	}
	w.run(us, uk)
	w.run(uk, us)
	w.run(us, uk)
	t.Logf("%d of 16 racing runs found the lock held", locked)
	checkBothWays(t, w, map[string][]string{us: refs})
}

// TestClockJumpsBack runs both parties with a clock two days behind the
// one that stamped their earlier work (claims, ids, log records, sent
// bundles), then forward again: nothing is stuck, lost or done twice, the
// logs still verify, and status still answers.
func TestClockJumpsBack(t *testing.T) {
	t.Parallel()
	w := newWorld(t, loopbackServer(t), "", us, uk)
	w.send(us, uk, "before", "", map[string]string{"a.txt": "sent before the jump"})
	w.run(us, uk)
	w.run(uk, us)
	w.run(us, uk)
	// A claim left by a run killed at the real time.
	w.send(us, uk, "claimed", "", map[string]string{"b.txt": "claimed before the jump"})
	if !runBinary(t, w.sides[us], uk, "push.claimed") {
		t.Fatal("the run was not killed")
	}
	w.start(w.sides[us])
	behind := func() time.Time { return time.Now().Add(-48 * time.Hour) }
	for _, s := range w.sides {
		s.eng.SetClock(behind)
	}
	w.send(us, uk, "after", "", map[string]string{"c.txt": "sent after the jump"})
	w.send(uk, us, "reply", "", map[string]string{"d.txt": "an answer"})
	w.run(us, uk)
	w.run(uk, us)
	w.run(us, uk)
	for _, s := range w.sides {
		if _, err := s.eng.Status(""); err != nil {
			t.Fatalf("status of %s with the clock behind: %v", s.id, err)
		}
	}
	for _, s := range w.sides {
		s.eng.SetClock(time.Now)
	}
	w.run(uk, us)
	w.run(us, uk)
	checkBothWays(t, w, map[string][]string{us: {"before", "claimed", "after"}, uk: {"reply"}})
	for _, s := range w.sides {
		if _, err := audit.Verify(s.state("audit")); err != nil {
			t.Fatalf("%s's log after the clock jumped back: %v", s.id, err)
		}
	}
}
