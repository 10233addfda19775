package sftpdrop

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxNameBytes is the longest file name accepted (NAME_MAX on common file systems).
const maxNameBytes = 255

// hostileReason returns why name is unsafe to use as a local or remote file
// name, or "" when it is safe. It looks at the raw bytes only.
func hostileReason(name string) string {
	switch {
	case name == "":
		return "empty name"
	case len(name) > maxNameBytes:
		return "name longer than 255 bytes"
	case !utf8.ValidString(name):
		return "name is not valid UTF-8"
	case strings.ContainsAny(name, "/\\"):
		return "name contains a slash or backslash"
	case strings.Contains(name, ".."):
		return `name contains ".."`
	case strings.IndexFunc(name, isControl) >= 0:
		return "name contains a control character"
	}
	return ""
}

// isControl reports C0/C1 control characters, DEL and NUL, and the
// bidirectional controls that make a name display as another
// ("x\u202egpj.pgp"), as the bundle reader does for payload names.
func isControl(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r < 0xa0) || unicode.Is(unicode.Bidi_Control, r)
}

// isFinalName reports whether a (safe) name is a bundle's final name on the
// drop: not hidden, ending in .pgp or .asc.
func isFinalName(name string) bool {
	return !strings.HasPrefix(name, ".") &&
		(strings.HasSuffix(name, ".pgp") || strings.HasSuffix(name, ".asc"))
}
