package drop

import (
	"strings"
	"testing"
)

func TestHostileReason(t *testing.T) {
	for name, want := range map[string]string{
		"us_uk_request_0193b2c4.pgp":      "",
		"ünïcode.asc":                     "",
		"":                                "empty",
		"a/b.pgp":                         "slash",
		"/abs.pgp":                        "slash",
		"..":                              `".."`,
		"nul\x00.pgp":                     "control",
		"c1\u0085.pgp":                    "control",
		"rtl\u202egpj.pgp":                "control",
		"lrm\u200e.pgp":                   "control",
		"zwsp\u200b.pgp":                  "invisible",
		"wj\u2060.pgp":                    "invisible",
		"\ufeffbom.pgp":                   "invisible",
		"soft\u00adhyphen.pgp":            "invisible",
		"iso\u2066late.pgp":               "invisible",
		"tag\U000e0041.pgp":               "invisible",
		"mvs\u180e.pgp":                   "invisible",
		"ls\u2028.pgp":                    "invisible",
		"pua\ue000.pgp":                   "invisible",
		"non\uffff.pgp":                   "invisible",
		"vs\ufe0f.pgp":                    "invisible",
		"filler\u3164.pgp":                "invisible",
		strings.Repeat("x", 252) + ".pgp": "255 bytes",
		"\xc3.pgp":                        "UTF-8",
	} {
		if got := HostileReason(name); !strings.Contains(got, want) || (want == "") != (got == "") {
			t.Errorf("HostileReason(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestIsFinalName(t *testing.T) {
	for name, want := range map[string]bool{
		"us_uk_request_0193b2c4.pgp": true,
		"a.asc":                      true,
		".a.pgp.part":                false,
		".hidden.pgp":                false,
		"a.pgp.part":                 false,
		"a.txt":                      false,
	} {
		if got := IsFinalName(name); got != want {
			t.Errorf("IsFinalName(%q) = %v, want %v", name, got, want)
		}
	}
}
