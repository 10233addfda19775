package bundle

import (
	"archive/tar"
	"errors"
	"strings"
	"testing"
)

// errVerify stands for a decrypting reader's verdict (an integrity or
// signature failure).
var errVerify = errors.New("verification failed")

// dataWithError returns data, and err with the read that reaches offset
// at (so that one read brings both data and the error); every read after
// that returns err alone.
type dataWithError struct {
	data []byte
	at   int
	off  int
	err  error
}

func (d *dataWithError) Read(p []byte) (int, error) {
	if d.off > d.at || d.off == len(d.data) {
		return 0, d.err
	}
	n := copy(p, d.data[d.off:])
	d.off += n
	if d.off > d.at {
		return n, d.err
	}
	return n, nil
}

// TestReadSourceErrorWinsInTheSameRead feeds Read archives it refuses from
// a source whose error arrives in the very read that brings the refused
// data: the source's error must be what Read reports, never hidden behind
// ErrArchive, ErrManifest or ErrLimits.
func TestReadSourceErrorWinsInTheSameRead(t *testing.T) {
	good := craft(t, bundleOf(t, reg("payload/a.txt", "alpha"))...)
	junk := append([]byte(string(good)), "JUNK"...)
	big := reg("payload/big", strings.Repeat("x", 2<<20))
	cases := []struct {
		name string
		data []byte
		at   int
		lim  Limits
	}{
		{"a symbolic link in the first header", craft(t, special(tar.TypeSymlink, "payload/l", "/etc/passwd")), 0, okLimits},
		{"a name with .. in the first header", craft(t, reg("payload/../x", "x")), 0, okLimits},
		{"an entry over the size limit", craft(t, big)[:1024], 0, okLimits},
		{"non-zero data after the archive", junk, len(junk) - 1, okLimits},
		{"no manifest at the end", craft(t, reg("payload/a.txt", "alpha")), 0, okLimits},
		{"a manifest that does not match", craft(t, reg("payload/a.txt", "alpha"), manifestOf(t, listing(reg("payload/a.txt", "bravo")))), 0, okLimits},
		{"a stream over the limit", good, 600, Limits{MaxBytes: 1000}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ats := []int{c.at}
			if c.lim == okLimits { // over the limit, Read stops before the end
				ats = append(ats, len(c.data)-1)
			}
			for _, at := range ats {
				_, _, err := readInSandbox(t, &dataWithError{data: c.data, at: at, err: errVerify}, c.lim, Expect{})
				if !errors.Is(err, errVerify) {
					t.Fatalf("error arriving at offset %d: Read returned %v, want the source's error", at, err)
				}
				for _, refusal := range []error{ErrArchive, ErrManifest, ErrLimits} {
					if errors.Is(err, refusal) {
						t.Fatalf("error arriving at offset %d: %v also wraps %v", at, err, refusal)
					}
				}
				if !strings.Contains(err.Error(), "reading the bundle") {
					t.Errorf("error %q does not say where it came from", err)
				}
			}
		})
	}
}
