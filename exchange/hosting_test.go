package exchange_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestHostingTheDrop: we host the drop (a local partner section) and the
// partner reaches the same folders over SFTP: a request goes out, is
// filed and receipted, and the receipt comes back, with nothing left on
// the drop.
func TestHostingTheDrop(t *testing.T) {
	w := newWorld(t, loopbackServer(t), "", us, uk)
	s := w.sides[us]
	yaml, err := os.ReadFile(s.cfgPath)
	must(t, err)
	start := strings.Index(string(yaml), "    sftp:\n")
	end := strings.Index(string(yaml), "      timeout: 10s\n") + len("      timeout: 10s\n")
	local := fmt.Sprintf("    local:\n      root: %s\n      push_dir: %s-to-%s\n      pull_dir: %s-to-%s\n", w.srv.root, us, uk, uk, us)
	must(t, os.WriteFile(s.cfgPath, []byte(string(yaml[:start])+local+string(yaml[end:])), 0o600))
	w.start(s)
	if s.cfg.Partners[uk].Local == nil {
		t.Fatal("the configuration did not load a local drop")
	}

	w.send(us, uk, "CASE-1", "", map[string]string{"request.txt": "please"})
	if res := w.run(us, uk); res.Pushed != 1 {
		t.Fatalf("pushed %d through the local drop, want 1", res.Pushed)
	}
	if res := w.run(uk, us); res.Filed != 1 || res.Pushed != 1 {
		t.Fatalf("the partner filed %d and pushed %d over SFTP, want 1 and 1", res.Filed, res.Pushed)
	}
	if res := w.run(us, uk); res.Receipts != 1 {
		t.Fatalf("got %d receipts through the local drop, want 1", res.Receipts)
	}
	for _, pair := range [][2]string{{us, uk}, {uk, us}} {
		if left := w.drop(pair[0], pair[1]); len(left) != 0 {
			t.Fatalf("drop %s-to-%s still holds %v", pair[0], pair[1], left)
		}
	}
}
