package exchange_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestHostingTheDrop: we host the drop (a local partner section) and the
// partner reaches the same folders over SFTP: a request goes out, is
// filed and receipted, and the receipt comes back, with nothing left on
// the drop.
func TestHostingTheDrop(t *testing.T) {
	w := hostingWorld(t)
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

// hostingWorld is a world where us hosts the drop (a local: section over
// the server's folders) and uk reaches it over SFTP.
func hostingWorld(t *testing.T) *world {
	t.Helper()
	return newWorldOn(t, loopbackServer(t), transports(us)[1], "", us, uk)
}

// TestLocalPartLeftByACrashIsRemoved: the local transport publishes by
// linking the hidden .part under the final name and then unlinking it. A
// crash between the two leaves the .part as a second link to the published
// bundle; the next run finds the bundle published and must remove the
// .part, or it would keep the bundle in the partner's folder for ever.
func TestLocalPartLeftByACrashIsRemoved(t *testing.T) {
	t.Parallel()
	w := hostingWorld(t)
	s := w.sides[us]
	w.send(us, uk, "CASE-1", "", map[string]string{"request.txt": "please"})
	if !runBinary(t, s, uk, "push.published") {
		t.Fatal("the run was not killed at push.published")
	}
	dir := filepath.Join(w.srv.root, us+"-to-"+uk)
	published := w.drop(us, uk)
	if len(published) != 1 {
		t.Fatalf("drop holds %v after the crash, want the one bundle", published)
	}
	part := filepath.Join(dir, "."+published[0]+".part")
	must(t, os.Link(filepath.Join(dir, published[0]), part))
	runBinary(t, s, uk, "")
	if _, err := os.Lstat(part); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the .part left by the crash is still there (%v)", err)
	}
	if got := w.drop(us, uk); len(got) != 1 || got[0] != published[0] {
		t.Fatalf("drop holds %v, want %s once", got, published[0])
	}
}
