package exchange_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/exchange/audit"
	"github.com/sealpost/sealpost/internal/sftpd"
)

// TestLostRenameReply: the server publishes a bundle (the rename is
// carried out) but the connection breaks before its reply reaches us, so
// the upload is retried. Whatever the retry does, the bytes on the drop
// must be those kept in sent/ and logged as uploaded: a partner's receipt
// names the SHA-256 of what it took, and is matched against sent/. Both
// with posix-rename (the retry replaces the published file) and without
// (the retry finds the final name taken).
func TestLostRenameReply(t *testing.T) {
	t.Parallel()
	for name, opts := range map[string][]sftpd.Option{
		"posix-rename": {sftpd.WithLostRenameReplies(1)},
		"plain-rename": {sftpd.WithLostRenameReplies(1), sftpd.WithoutPosixRename()},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, lyingServer(t, opts...), "", us, uk)
			w.send(us, uk, "lost reply", "", map[string]string{"a.txt": strings.Repeat("lost reply\n", 1000)})
			w.run(us, uk)
			drop := w.drop(us, uk)
			if len(drop) != 1 {
				t.Fatalf("the drop holds %v, want one bundle", drop)
			}
			published := fileSum(t, filepath.Join(w.srv.root, us+"-to-"+uk, drop[0]))
			kept := names(t, w.sides[us].state("sent", uk))
			if len(kept) != 1 {
				t.Fatalf("sent/ holds %v", kept)
			}
			sent := fileSum(t, filepath.Join(w.sides[us].state("sent", uk), kept[0]))
			ups := w.records(us, audit.EvUploaded)
			if len(ups) == 0 || ups[len(ups)-1].SHA256 != sent || published != sent {
				t.Fatalf("published %s, sent/ holds %s, logged %v: they must be the same bytes", published, sent, ups)
			}
			res := w.run(uk, us)
			if res.Filed != 1 {
				t.Fatalf("partner filed %d bundles", res.Filed)
			}
			w.run(us, uk)
			for _, r := range w.records(us, audit.EvReceipt) {
				if r.Outcome != audit.OutcomeOK {
					t.Fatalf("receipt recorded %s: %s", r.Outcome, r.Error)
				}
			}
		})
	}
}

// fileSum returns the hex SHA-256 of a file.
func fileSum(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	must(t, err)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
