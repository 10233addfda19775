package exchange_test

import (
	"testing"
)

// TestLargestMaxBytesStillFiles: limits.max_bytes may be set as large as a
// size can be ("no limit" in practice). The bound on a listed file's size
// derived from it (max_bytes plus 1% plus 1 MiB, half again for armour)
// must not wrap around and make every bundle "too large": each would be
// refused unread, answered rejected and removed from the drop.
func TestLargestMaxBytesStillFiles(t *testing.T) {
	for _, max := range []string{"9223372036854775807", "7000000TB"} {
		t.Run(max, func(t *testing.T) {
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
