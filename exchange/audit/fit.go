package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"

	"github.com/sealpost/sealpost/internal/safetext"
)

// MaxField is the longest a text member of a record is kept when the whole
// record would not fit on one line of MaxLine bytes: Append then cuts every
// longer member to MaxField bytes, ending in a marker that gives the
// member's full length and SHA-256. With 17 members cut, the time bounded,
// prev 64 hex digits, and JSON escaping at most 6 bytes per byte, the cut
// record always fits.
const MaxField = 8 << 10

// maxTime bounds a record's time; a valid one is about 30 bytes.
const maxTime = 64

// cutMarker is the most bytes the marker Append puts after a cut member takes.
const cutMarker = 128

// fitLine returns r unchanged when it surely fits on one line, and
// otherwise r with every text member over MaxField bytes cut (see MaxField),
// so that the log never refuses a record for its length.
func fitLine(r Record) Record {
	if textBytes(r)*6+1024 <= MaxLine {
		return r
	}
	if _, err := encode(r); err == nil {
		return r
	}
	for _, p := range textMembers(&r) {
		*p = cutField(*p)
	}
	if r.PeerLogHead != nil {
		h := *r.PeerLogHead
		h.SHA256 = cutField(h.SHA256)
		r.PeerLogHead = &h
	}
	return r
}

// textMembers returns the text members of r that fitLine may cut: all but
// the time and outcome, which checkRecord bounds, and prev, which Append
// sets to 64 hex digits.
func textMembers(r *Record) []*string {
	return []*string{&r.Event, &r.Partner, &r.Bundle, &r.Kind, &r.File, &r.SHA256, &r.Error, &r.Code,
		&r.InReplyTo, &r.Reference, &r.Self, &r.Host, &r.HostKey, &r.User, &r.Detail}
}

// textBytes is the length of r's text members.
func textBytes(r Record) int {
	n := len(r.Time) + len(r.Outcome)
	for _, p := range textMembers(&r) {
		n += len(*p)
	}
	if r.PeerLogHead != nil {
		n += len(r.PeerLogHead.SHA256)
	}
	return n
}

// cutField returns s cut to at most MaxField bytes, with a marker naming
// its full length and SHA-256, if it is longer.
func cutField(s string) string {
	if len(s) <= MaxField {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return safetext.Prefix(s, MaxField-cutMarker) + "... [cut: " + strconv.Itoa(len(s)) + " bytes, sha256 " +
		hex.EncodeToString(sum[:]) + "]"
}
