package sftpdrop

import (
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sealpost/sealpost/exchange/drop"
)

// listed is a directory entry as a server lists it.
type listed struct {
	name string
	mode fs.FileMode
}

func (l listed) Name() string       { return l.name }
func (l listed) Size() int64        { return 1 }
func (l listed) Mode() fs.FileMode  { return l.mode }
func (l listed) ModTime() time.Time { return time.Time{} }
func (l listed) IsDir() bool        { return l.mode.IsDir() }
func (l listed) Sys() any           { return nil }

// FuzzHostileName: whatever name and type a server lists, an entry List
// would fetch is a regular file with a final name that stays inside the
// local folder it is stored in, and holds no control, bidirectional or
// invalid character; a name refused is given a reason.
func FuzzHostileName(f *testing.F) {
	for _, s := range []string{"us_uk_request_0193b2c4-6d2e-7c1a-9f00-3b1c2d4e5f60.pgp", "a.asc", "../x.pgp",
		"a/b.pgp", `a\b.pgp`, "x\x00.pgp", "\u202egpj.pgp", "zw\u200bsp.pgp", ".hidden.pgp", "x.pgp.part", "\xff.pgp", "..pgp"} {
		f.Add(s, uint32(0))
	}
	f.Add("link.pgp", uint32(fs.ModeSymlink))
	f.Add("dir.pgp", uint32(fs.ModeDir))
	f.Fuzz(func(t *testing.T, name string, mode uint32) {
		ent, reason := drop.Classify(listed{name, fs.FileMode(mode)})
		if ent == nil {
			if reason == "" && drop.HostileReason(name) != "" {
				t.Fatalf("%q refused without a reason", name)
			}
			return
		}
		switch {
		case reason != "":
			t.Fatalf("%q both fetched and refused (%s)", name, reason)
		case ent.Name != name:
			t.Fatalf("entry name %q for listed %q", ent.Name, name)
		case !fs.FileMode(mode).IsRegular():
			t.Fatalf("%q of mode %v would be fetched", name, fs.FileMode(mode))
		case !utf8.ValidString(name), len(name) > drop.MaxNameBytes, strings.HasPrefix(name, "."):
			t.Fatalf("%q would be fetched", name)
		case !strings.HasSuffix(name, ".pgp") && !strings.HasSuffix(name, ".asc"):
			t.Fatalf("%q is not a final name", name)
		case strings.IndexFunc(name, func(r rune) bool {
			return unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp, unicode.Co)
		}) >= 0:
			t.Fatalf("%q holds a control or invisible character", name)
		}
		local := filepath.Join("/state/work/in", name)
		if filepath.Dir(local) != "/state/work/in" || filepath.Base(local) != name {
			t.Fatalf("%q escapes its folder: %s", name, local)
		}
	})
}
