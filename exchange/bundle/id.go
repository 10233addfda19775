package bundle

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"sync"
	"time"
)

// lastID is the state that keeps NewID monotonic within the process.
var lastID struct {
	sync.Mutex
	ms     int64  // unix milliseconds
	randA  uint16 // 12 bits
	randB  uint64 // 62 bits
	issued bool
}

const (
	randAMask = 1<<12 - 1
	randBMask = 1<<62 - 1
)

// NewID returns a new UUIDv7 (RFC 9562) in lowercase canonical form: 48 bits
// of Unix milliseconds and 74 random bits from crypto/rand. Within one process
// ids strictly increase: an id made in the same millisecond as the previous one
// (or after the clock stepped back) is the previous one plus a random step.
func NewID() string {
	var r [10]byte
	_, _ = rand.Read(r[:]) // crypto/rand.Read never returns an error
	ms := time.Now().UnixMilli()
	a := binary.BigEndian.Uint16(r[:2]) & randAMask
	b := binary.BigEndian.Uint64(r[2:]) & randBMask

	lastID.Lock()
	if lastID.issued && ms <= lastID.ms {
		ms, a, b = lastID.ms, lastID.randA, lastID.randB+1+b>>40
		if b > randBMask {
			b &= randBMask
			a++
			if a > randAMask {
				a = 0
				ms++
			}
		}
	}
	lastID.ms, lastID.randA, lastID.randB, lastID.issued = ms, a, b, true
	lastID.Unlock()

	var u [16]byte
	binary.BigEndian.PutUint64(u[:8], uint64(ms)<<16|0x7000|uint64(a))
	binary.BigEndian.PutUint64(u[8:], 0x8000000000000000|b)
	return formatUUID(u)
}

// formatUUID writes u as 8-4-4-4-12 lowercase hex.
func formatUUID(u [16]byte) string {
	var s [36]byte
	hex.Encode(s[0:8], u[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], u[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], u[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], u[8:10])
	s[23] = '-'
	hex.Encode(s[24:], u[10:])
	return string(s[:])
}

// ValidID reports whether s is a bundle id: a UUID in lowercase canonical
// form (any version).
func ValidID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isLowerHex(s[i]) {
				return false
			}
		}
	}
	return true
}

// File name suffixes on the drop.
const (
	extBinary  = ".pgp"
	extArmored = ".asc"
)

// FileName returns the bundle's name on the drop:
// "<sender>_<recipient>_<kind>_<id>.pgp", or ".asc" if armored.
func FileName(m *Manifest, armored bool) string {
	ext := extBinary
	if armored {
		ext = extArmored
	}
	return m.Sender + "_" + m.Recipient + "_" + m.Kind + "_" + m.ID + ext
}

// DropName is what a bundle's name on the drop says about it.
type DropName struct {
	Sender, Recipient string // party ids
	Kind              string // KindRequest, KindResponse or KindReceipt
	ID                string // the bundle id
	Armored           bool   // .asc rather than .pgp
}

// ParseFileName splits a drop file name made by FileName; ok is false if name
// is not of that form (party ids, a known kind, a lowercase UUID, .pgp or .asc).
func ParseFileName(name string) (n DropName, ok bool) {
	base, found := strings.CutSuffix(name, extBinary)
	if !found {
		base, n.Armored = strings.CutSuffix(name, extArmored)
		if !n.Armored {
			return DropName{}, false
		}
	}
	parts := strings.Split(base, "_")
	if len(parts) != 4 {
		return DropName{}, false
	}
	n.Sender, n.Recipient, n.Kind, n.ID = parts[0], parts[1], parts[2], parts[3]
	if !ValidPartyID(n.Sender) || !ValidPartyID(n.Recipient) || !ValidID(n.ID) ||
		n.Kind != KindRequest && n.Kind != KindResponse && n.Kind != KindReceipt {
		return DropName{}, false
	}
	return n, true
}
