package crypto

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
)

// countingReader counts the octets read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestOpenBoundsTheArmourHeader: an armoured message's header, which the
// armour decoder keeps whole (a header line continued over 100-octet
// reads is joined by repeated concatenation: quadratic; every header key
// is kept in a map), is read within maxArmourHead octets, then refused.
// A genuine armoured message still opens.
func TestOpenBoundsTheArmourHeader(t *testing.T) {
	t.Parallel()
	us := cachedParty(t, "us-ed25519", KeyEd25519)
	them := cachedParty(t, "them-ed25519", KeyEd25519)
	const size = 512 << 10
	var keys strings.Builder
	for i := 0; keys.Len() < size; i++ {
		fmt.Fprintf(&keys, "K%d: v\n", i)
	}
	cases := map[string]string{
		"one header line without end": "Comment: " + strings.Repeat("x", size) + "\n\n",
		"a header of many keys":       keys.String() + "\n",
		"garbage before the armour":   strings.Repeat("garbage line\n", size/13),
	}
	for name, head := range cases {
		msg := "-----BEGIN PGP MESSAGE-----\n" + head
		if name == "garbage before the armour" {
			msg = head + "-----BEGIN PGP MESSAGE-----\n\n"
		}
		msg += "wcBMA0MAAAAAAAAA\n=AAAA\n-----END PGP MESSAGE-----\n"
		src := &countingReader{r: strings.NewReader(msg)}
		_, err := Open(src, us.self, them.peer(t), OpenOptions{})
		wantRefusal(t, err, ErrDecrypt)
		if src.n > 2*maxArmourHead {
			t.Errorf("%s: read %d octets of a %d-octet armour header, want at most %d", name, src.n, len(head), 2*maxArmourHead)
		}
	}
	msg := sealBytes(t, them.self, us.peer(t), SealOptions{Armor: true}, []byte("genuine"))
	if got, _, err := openBytes(msg, us.self, them.peer(t), OpenOptions{}); err != nil || !bytes.Equal(got, []byte("genuine")) {
		t.Fatalf("a genuine armoured message: %q, %v", got, err)
	}
}
