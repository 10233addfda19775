package drop

import (
	"strings"
	"unicode/utf8"

	"github.com/sealpost/sealpost/internal/safetext"
)

// MaxNameBytes is the longest file name accepted (NAME_MAX on common file systems).
const MaxNameBytes = 255

// HostileReason returns why name is unsafe to use as a local or remote file
// name, or "" when it is safe. It looks at the raw bytes only: besides
// slashes, "..", invalid UTF-8 and lengths over NAME_MAX, it refuses every
// character that does not show as itself (safetext.Invisible: controls,
// bidirectional and other format characters such as U+200B, U+2060, U+FEFF
// and U+00AD, separators, private-use characters, noncharacters), so that a
// name cannot pass for another.
func HostileReason(name string) string {
	switch {
	case name == "":
		return "empty name"
	case len(name) > MaxNameBytes:
		return "name longer than 255 bytes"
	case !utf8.ValidString(name):
		return "name is not valid UTF-8"
	case strings.ContainsAny(name, "/\\"):
		return "name contains a slash or backslash"
	case strings.Contains(name, ".."):
		return `name contains ".."`
	case strings.IndexFunc(name, safetext.Invisible) >= 0:
		return "name contains a control or invisible character"
	}
	return ""
}

// IsFinalName reports whether a (safe) name is a bundle's final name on the
// drop: not hidden, ending in .pgp or .asc.
func IsFinalName(name string) bool {
	return !strings.HasPrefix(name, ".") &&
		(strings.HasSuffix(name, ".pgp") || strings.HasSuffix(name, ".asc"))
}
