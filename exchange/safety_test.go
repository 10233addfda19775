package exchange_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestOutboxDevices: a character or block device in the outbox is never
// opened or read; it goes to failed/ with a reason (links, hard links and
// FIFOs: TestOutboxRules).
func TestOutboxDevices(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("making device nodes needs root (CI must run the tests as root)")
		}
		t.Skip("making device nodes needs root (run as root, as CI does)")
	}
	w := newWorld(t, loopbackServer(t), "", us, uk)
	out := w.sides[us].state("outbox", uk)
	// /dev/zero and /dev/loop0's numbers: read, either would never end or
	// would send a disk.
	must(t, syscall.Mknod(filepath.Join(out, "zero"), syscall.S_IFCHR|0o600, int(1<<8|5)))
	must(t, syscall.Mknod(filepath.Join(out, "disk"), syscall.S_IFBLK|0o600, int(7<<8)))
	res := w.run(us, uk)
	if res.Pushed != 0 || res.Failed != 2 {
		t.Fatalf("pushed %d, failed %d; want the two devices failed, nothing sent", res.Pushed, res.Failed)
	}
	for _, n := range []string{"zero", "disk"} {
		var rj struct{ Reason string }
		readJSONFile(t, w.sides[us].state("failed", uk, n+".reason.json"), &rj)
		if !strings.Contains(rj.Reason, "special file") {
			t.Fatalf("reason for %s: %q", n, rj.Reason)
		}
	}
	if left := w.drop(us, uk); len(left) != 0 {
		t.Fatalf("the drop holds %v", left)
	}
}

// TestPrivateUnderUmaskZero runs a whole exchange with umask 000: every
// file and folder sealpost makes in either state folder (decrypted
// payloads, sent and received bundles, receipts, quarantine, the log) is
// still readable by its owner only.
func TestPrivateUnderUmaskZero(t *testing.T) {
	// The world's own folders (configuration, keys) are made first: under
	// umask 0 they would be 0777, and a state_dir below them is refused.
	// The state folders are then made again, under umask 0.
	w := newWorld(t, loopbackServer(t), "", us, uk)
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	for _, s := range w.sides {
		s.eng.Close()
		must(t, os.RemoveAll(s.state()))
		w.start(s)
	}
	w.send(us, uk, "private", "", map[string]string{"secret.txt": "for the partner only", "folder/deep.txt": "also"})
	w.run(us, uk)
	must(t, os.WriteFile(filepath.Join(w.srv.root, us+"-to-"+uk, us+"_"+uk+"_request_01a21f7b-1dd2-7a63-aca9-2df4596e7cab.pgp"),
		[]byte("garbage to quarantine"), 0o666))
	w.run(uk, us)
	w.run(us, uk)
	if len(w.inbox(uk, us)) != 1 || len(names(t, w.sides[uk].state("quarantine", us))) != 2 {
		t.Fatal("the exchange did not file one bundle and quarantine one file")
	}
	for _, s := range w.sides {
		checkPrivate(t, s.state())
	}
}

// TestNoInsecureHostKeyCallback fails the build's tests if any non-test Go
// file of the module mentions ssh.InsecureIgnoreHostKey (every host key is
// checked against known_hosts; there is no trust on first use), or imports
// the deprecated golang.org/x/crypto/openpgp.
func TestNoInsecureHostKeyCallback(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("..")
	must(t, err)
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s: %v", root, err)
	}
	forbidden := []string{"InsecureIgnoreHostKey", `"golang.org/x/crypto/openpgp`}
	scanned := 0
	must(t, filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && p != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(p)
		must(t, err)
		scanned++
		for _, f := range forbidden {
			if bytes.Contains(data, []byte(f)) {
				t.Errorf("%s uses %s", p, f)
			}
		}
		return nil
	}))
	if scanned < 20 {
		t.Fatalf("scanned only %d Go files under %s", scanned, root)
	}
}
