// Package safetext holds the rules sealpost applies to text that others
// control (a partner's names, references and reasons, a server's file
// names): which characters do not show as themselves, and how to quote a
// string of any length in a bounded number of bytes.
package safetext

import (
	"strconv"
	"unicode"
	"unicode/utf8"
)

// Invisible reports whether r does not print as a visible character of its
// own, so that a name holding it can look like another name or hide text:
// controls (Cc: C0, DEL, C1), format characters (Cf: bidirectional marks and
// overrides, zero-width spaces and joiners, U+2060 word joiner, U+FEFF,
// U+00AD soft hyphen, tag characters U+E0000…), line and paragraph
// separators (Zl, Zp), private-use characters (Co), the other
// default-ignorable characters (U+034F, U+115F, U+3164, U+FFA0…), variation
// selectors, and noncharacters (U+FDD0–U+FDEF, U+xFFFE, U+xFFFF).
func Invisible(r rune) bool {
	switch {
	case r < 0x20 || r == 0x7f:
		return true
	case r < 0xa0:
		return r >= 0x80
	case r >= 0xfdd0 && r <= 0xfdef, r&0xfffe == 0xfffe:
		return true
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp, unicode.Co,
		unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector)
}

// MaxQuoted is the most bytes of a string that Quote shows.
const MaxQuoted = 200

// Quote returns s as a Go-quoted string (%+q: ASCII only, so every
// invisible or non-printing character shows as an escape), showing at most
// MaxQuoted bytes of s: a longer s is cut at a character boundary and its
// full length follows the quotes, as in "abc"... (300000 bytes). The result
// is at most about 6×MaxQuoted+40 bytes, whatever the length of s.
func Quote(s string) string {
	if len(s) <= MaxQuoted {
		return strconv.QuoteToASCII(s)
	}
	return strconv.QuoteToASCII(Prefix(s, MaxQuoted)) + "... (" + strconv.Itoa(len(s)) + " bytes)"
}

// Prefix returns the longest prefix of s of at most n bytes that does not
// end inside a UTF-8 sequence.
func Prefix(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && i > n-utf8.UTFMax && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

// Cut returns s if it is at most n bytes long, or else its first n bytes
// (at a character boundary) followed by "... (N bytes)", N being len(s).
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return Prefix(s, n) + "... (" + strconv.Itoa(len(s)) + " bytes)"
}
