package drop

import (
	"fmt"
	"io/fs"
	"sort"

	"github.com/sealpost/sealpost/internal/safetext"
)

// The bounds every transport keeps when it lists a drop folder, so that a
// folder without end costs bounded memory and time.
const (
	// MaxEntries caps the entries a listing returns.
	MaxEntries = 10000
	// MaxScanned caps the folder entries of any kind a listing reads.
	MaxScanned = 100000
	// maxSkipped caps the skipped names a listing reports one by one.
	maxSkipped = 100
	// maxSkippedName bounds a skipped name as reported: the far side may
	// list a name of any length, and a longer one is cut (safetext.Cut).
	maxSkippedName = 1024
)

// Listing gathers a folder's entries as a transport reads them: the files
// with final names, the refused names with their reasons, and what was
// left out beyond the bounds. The zero value is not ready: use NewListing.
type Listing struct {
	entries                []Entry
	skipped                []Skipped
	scanned, cut           int
	maxEntries, maxScanned int
}

// NewListing starts a listing that keeps at most maxEntries files and
// reads at most maxScanned entries (MaxEntries and MaxScanned, smaller in
// tests).
func NewListing(maxEntries, maxScanned int) *Listing {
	return &Listing{maxEntries: maxEntries, maxScanned: maxScanned}
}

// Room is how many more folder entries the listing may read.
func (l *Listing) Room() int { return l.maxScanned - l.scanned }

// Add counts one folder entry read, named name: a file to return (ent), a
// name refused with reason, or neither (a name not ours to fetch).
// Entries beyond the bounds are counted, not kept.
func (l *Listing) Add(name string, ent *Entry, reason string) {
	if l.scanned++; l.scanned > l.maxScanned {
		return
	}
	switch {
	case reason != "":
		if len(l.skipped) < maxSkipped {
			l.skipped = append(l.skipped, Skipped{Name: safetext.Cut(name, maxSkippedName), Reason: reason})
		} else {
			l.cut++
		}
	case ent == nil:
	case len(l.entries) == l.maxEntries:
		l.cut++
	default:
		l.entries = append(l.entries, *ent)
	}
}

// Result returns the files sorted by name and the skipped names, with a
// last line for what was left out and, unless the folder was read to its
// end (complete), for the cut.
func (l *Listing) Result(complete bool) ([]Entry, []Skipped) {
	sort.Slice(l.entries, func(i, j int) bool { return l.entries[i].Name < l.entries[j].Name })
	if l.cut > 0 {
		l.skipped = append(l.skipped, Skipped{Reason: fmt.Sprintf("%d more entries not listed (at most %d files and %d skipped names are reported)", l.cut, l.maxEntries, maxSkipped)})
	}
	if !complete {
		l.skipped = append(l.skipped, Skipped{Reason: fmt.Sprintf("listing truncated: reading stopped after %d entries", l.maxScanned)})
	}
	return l.entries, l.skipped
}

// Classify judges a folder entry by its name and its own attributes (never
// a link's target): a file to fetch, a reason to refuse it (a hostile
// name, a symbolic link or another non-regular file with a final name), or neither for a name that is not ours (hidden, or not .pgp/.asc).
func Classify(fi fs.FileInfo) (*Entry, string) {
	name := fi.Name()
	if reason := HostileReason(name); reason != "" {
		return nil, reason
	}
	if !IsFinalName(name) {
		return nil, ""
	}
	switch mode := fi.Mode(); {
	case mode&fs.ModeSymlink != 0:
		return nil, "symbolic link"
	case !mode.IsRegular():
		return nil, "not a regular file"
	}
	return &Entry{Name: name, Size: fi.Size(), ModTime: fi.ModTime()}, ""
}
