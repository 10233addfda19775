package safetext

import (
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzSafeText holds the rules for text others control, whatever the text:
// Quote is ASCII, on one line, bounded, unquotes to s (or to its prefix
// when s is long); Cut and Prefix never end inside a character of valid
// text and are bounded; every control, format, separator or private-use
// rune is Invisible.
func FuzzSafeText(f *testing.F) {
	for _, s := range []string{"", "plain", "zw\u200bsp", "bom\ufeff", "soft\u00adhyphen", "rlo\u202egpj.pgp", "\x1b[2J",
		"\xff\xfe", "é" + strings.Repeat("€", 80), strings.Repeat("😀", 60), "tag\U000e0041", "vs\ufe0f", "\ufdd0"} {
		f.Add(s, uint16(7), uint16(3))
	}
	f.Fuzz(func(t *testing.T, s string, rep, n uint16) {
		if len(s) > 0 && len(s) < 64<<10 {
			s = strings.Repeat(s, int(rep)%(64<<10/len(s))+1)
		}
		checkQuote(t, s)
		checkCut(t, s, int(n))
		for _, r := range s {
			if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp, unicode.Co) && !Invisible(r) {
				t.Fatalf("%U is not Invisible", r)
			}
		}
	})
}

// checkQuote checks Quote's promises for s.
func checkQuote(t *testing.T, s string) {
	q := Quote(s)
	if len(q) > 6*MaxQuoted+40 {
		t.Fatalf("Quote of %d bytes is %d bytes", len(s), len(q))
	}
	for i := 0; i < len(q); i++ {
		if q[i] >= utf8.RuneSelf || Invisible(rune(q[i])) {
			t.Fatalf("Quote holds byte %#x: %s", q[i], q)
		}
	}
	quoted, rest := q, ""
	if len(s) > MaxQuoted {
		i := strings.LastIndex(q, "... (")
		quoted, rest = q[:max(i, 0)], q[i+len("... ("):]
		if rest != strconv.Itoa(len(s))+" bytes)" {
			t.Fatalf("Quote of %d bytes ends %q", len(s), rest)
		}
	}
	u, err := strconv.Unquote(quoted)
	if err != nil || !strings.HasPrefix(s, u) || len(u) > MaxQuoted || len(s) <= MaxQuoted && u != s {
		t.Fatalf("Quote(%q) = %s does not unquote to it: %q, %v", s, q, u, err)
	}
}

// checkCut checks Cut and Prefix for s at n bytes.
func checkCut(t *testing.T, s string, n int) {
	p := Prefix(s, n)
	if len(p) > n || !strings.HasPrefix(s, p) || len(s) <= n && p != s {
		t.Fatalf("Prefix(%q, %d) = %q", s, n, p)
	}
	if utf8.ValidString(s) && (!utf8.ValidString(p) || len(p) < n-utf8.UTFMax+1 && len(p) < len(s)) {
		t.Fatalf("Prefix(%q, %d) = %q: cut inside a character, or too short", s, n, p)
	}
	c := Cut(s, n)
	if len(s) <= n && c != s || len(s) > n && (c != p+"... ("+strconv.Itoa(len(s))+" bytes)" || len(c) > n+32) {
		t.Fatalf("Cut(%q, %d) = %q", s, n, c)
	}
	if utf8.ValidString(s) && !utf8.ValidString(c) {
		t.Fatalf("Cut(%q, %d) = %q is not UTF-8", s, n, c)
	}
}
