package safetext

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestInvisible holds the class: every format, control, separator,
// private-use, default-ignorable, variation-selector and noncharacter rune
// is invisible; letters, digits, punctuation, symbols and spaces are not.
func TestInvisible(t *testing.T) {
	invisible := []rune{0, 0x1b, 0x7f, 0x85, 0x9f, 0xad, 0x34f, 0x61c, 0x115f, 0x180e, 0x200b, 0x200c, 0x200d,
		0x200e, 0x200f, 0x2028, 0x2029, 0x202a, 0x202e, 0x2060, 0x2064, 0x2066, 0x2069, 0x206f, 0x3164, 0xe000,
		0xf8ff, 0xfdd0, 0xfdef, 0xfe00, 0xfe0f, 0xfeff, 0xffa0, 0xfff9, 0xfffe, 0xffff, 0x1d173, 0x1fffe,
		0xe0001, 0xe0041, 0xe007f, 0xe0100, 0xf0000, 0x10fffd, 0x10ffff}
	for _, r := range invisible {
		if !Invisible(r) {
			t.Errorf("Invisible(%U) = false, want true", r)
		}
	}
	for _, r := range " aZ09-_.()é߷ſΣ中ß€😀\ufffd" {
		if Invisible(r) {
			t.Errorf("Invisible(%U) = true, want false", r)
		}
	}
}

// TestQuoteIsBounded: a string of any length quotes to a bounded, ASCII,
// single-line text that still says how long the string was.
func TestQuoteIsBounded(t *testing.T) {
	for _, s := range []string{strings.Repeat("\u200b", 300000), strings.Repeat("é", 300000), strings.Repeat("a", 1<<20),
		strings.Repeat("\xff", 1000), "short\u202e"} {
		q := Quote(s)
		if len(q) > 6*MaxQuoted+40 {
			t.Errorf("Quote of %d bytes is %d bytes long", len(s), len(q))
		}
		for _, r := range q {
			if r >= utf8.RuneSelf || Invisible(r) {
				t.Fatalf("Quote(...) holds %U: %s", r, q)
			}
		}
		if len(s) > MaxQuoted && !strings.HasSuffix(q, "bytes)") {
			t.Errorf("Quote of %d bytes does not give the length: %s", len(s), q)
		}
	}
	if p := Prefix("aé", 2); p != "a" {
		t.Errorf("Prefix cut inside a character: %q", p)
	}
}
