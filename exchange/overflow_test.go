package exchange_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/sealpost/sealpost/exchange"
	"github.com/sealpost/sealpost/exchange/audit"
	"github.com/sealpost/sealpost/internal/sftpd"
)

// TestLargestMaxBytesStillFiles: limits.max_bytes may be set as large as a
// size can be ("no limit" in practice). The bound on a listed file's size
// derived from it (max_bytes plus 1% plus 1 MiB, half again for armour)
// must not wrap around and make every bundle "too large": each would be
// refused unread, answered rejected and removed from the drop.
func TestLargestMaxBytesStillFiles(t *testing.T) {
	t.Parallel()
	for _, max := range []string{"9223372036854775807", "7000000TB"} {
		t.Run(max, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, loopbackServer(t), "limits:\n  max_bytes: "+max+"\npgp:\n  armor: true", us, uk)
			w.send(us, uk, "large limit", "", map[string]string{"a.txt": "a small bundle"})
			w.run(us, uk)
			res := w.run(uk, us)
			if res.Filed != 1 || res.Refused != 0 {
				t.Fatalf("max_bytes %s: filed %d, refused %d; want the bundle filed", max, res.Filed, res.Refused)
			}
		})
	}
}

// TestOversizedRefusedOnce: a file too large for limits.max_bytes is
// refused unread. When quarantine/ is full (no reason is kept) and the file
// cannot be cleaned off the drop (here the server refuses the move), the
// next run must see the refusal made already: not hash the file, answer it
// and count it again, run after run.
func TestOversizedRefusedOnce(t *testing.T) {
	t.Parallel()
	srv := lyingServer(t, sftpd.WithRefuseRename())
	must(t, os.MkdirAll(filepath.Join(srv.root, "done"), 0o755))
	w := newWorld(t, srv, "limits:\n  max_bytes: 1KiB\n  quarantine_files: 1", us, uk)
	s := w.sides[uk]
	moveAfterPull(t, s)
	w.start(s)
	q := s.state("quarantine", us)
	must(t, os.MkdirAll(q, 0o700))
	must(t, os.WriteFile(filepath.Join(q, "earlier.pgp.reason.json"), []byte("{}"), 0o600))
	big := "us-cbp_uk-hmrc_request_01a252f5-28b0-77e5-b4c6-76c2ecd84c5f.pgp"
	must(t, os.WriteFile(filepath.Join(srv.root, us+"-to-"+uk, big), bytes.Repeat([]byte("x"), 2<<20), 0o644))
	for run := 1; run <= 3; run++ {
		res := s.eng.RunPartner(t.Context(), exchange.RunOptions{Partner: us, PullOnly: true})
		if res.Err == nil {
			t.Fatalf("run %d: the refused move must fail the run", run)
		}
		if want := max(0, 2-run); res.Refused != want {
			t.Fatalf("run %d refused %d, want %d (the file was refused once, in run 1)", run, res.Refused, want)
		}
	}
	if got := len(w.records(uk, audit.EvRejected)); got != 1 {
		t.Fatalf("%d rejections logged, want 1", got)
	}
}
