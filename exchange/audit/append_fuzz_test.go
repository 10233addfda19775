package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sealpost/sealpost/internal/safetext"
)

// FuzzAppend appends a record whose text members hold whatever a partner,
// a server or an error may put there, of any length (one member, or all of
// them, repeated up to 256 KiB each): Append must accept every record with
// an event and an outcome, and what it wrote must verify and read back as
// the record, each member whole or cut to MaxField bytes with a marker
// naming its full length and SHA-256.
func FuzzAppend(f *testing.F) {
	f.Add("ref", uint32(1), uint8(9), false, "bundle.filed")
	f.Add("\x00\u2028\"\\", uint32(300000), uint8(9), false, "bundle.refused")
	f.Add("\u200b\xff", uint32(9000), uint8(0), true, "e")
	f.Add("a", uint32(MaxField), uint8(3), true, "remote.skipped")
	f.Add("é", uint32(MaxField/2+1), uint8(5), false, "\xff")
	f.Fuzz(func(t *testing.T, text string, rep uint32, member uint8, all bool, event string) {
		if len(text) == 0 || event == "" {
			return
		}
		s := strings.Repeat(text, int(rep%(1<<18/uint32(len(text))))+1)
		r := Record{Event: event, Outcome: OutcomeRejected, PeerLogHead: &LogHead{Seq: 1}}
		members := append(textMembers(&r), &r.PeerLogHead.SHA256)
		for i, p := range members {
			if all || i == int(member)%len(members) {
				*p = s
			}
		}
		dir := t.TempDir()
		l, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if _, err := l.Append(r); err != nil {
			t.Fatalf("Append refused a record of %d-byte members: %v", len(s), err)
		}
		var got []Record
		if err := Scan(dir, func(g Record) error { got = append(got, g); return nil }); err != nil || len(got) != 1 {
			t.Fatalf("Scan after Append: %d records, %v", len(got), err)
		}
		g := got[0]
		gm := append(textMembers(&g), &g.PeerLogHead.SHA256)
		for i, p := range members {
			checkMember(t, *p, *gm[i], textBytes(r)*6+1024 <= MaxLine)
		}
	})
}

// checkMember checks a member as read back against the one appended: whole
// (must be, when the record surely fits), or cut with its marker. JSON
// reads each byte that is not UTF-8 back as U+FFFD.
func checkMember(t *testing.T, put, got string, fits bool) {
	if got == asJSON(put) {
		return
	}
	if fits || len(put) <= MaxField {
		t.Fatalf("member of %d bytes read back as %d bytes, not whole", len(put), len(got))
	}
	sum := sha256.Sum256([]byte(put))
	cut := safetext.Prefix(put, MaxField-cutMarker) + "... [cut: " + strconv.Itoa(len(put)) + " bytes, sha256 " + hex.EncodeToString(sum[:]) + "]"
	if len(cut) > MaxField || got != asJSON(cut) {
		t.Fatalf("member of %d bytes read back as %d bytes ending %q, not cut to %d with its length and sha256",
			len(put), len(got), got[max(0, len(got)-120):], MaxField)
	}
}

// asJSON returns s with each byte that is not UTF-8 replaced by U+FFFD, as
// encoding/json writes it.
func asJSON(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteString("\ufffd")
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
