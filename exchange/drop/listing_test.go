package drop

import (
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"
)

type info struct {
	name string
	mode fs.FileMode
}

func (i info) Name() string       { return i.name }
func (i info) Size() int64        { return 7 }
func (i info) Mode() fs.FileMode  { return i.mode }
func (i info) ModTime() time.Time { return time.Unix(1, 0) }
func (i info) IsDir() bool        { return i.mode.IsDir() }
func (i info) Sys() any           { return nil }

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		name   string
		mode   fs.FileMode
		fetch  bool
		reason string
	}{
		{"us_uk_request_1.pgp", 0, true, ""},
		{"a.asc", 0, true, ""},
		{".a.pgp.part", 0, false, ""},
		{"notes.txt", 0, false, ""},
		{"link.pgp", fs.ModeSymlink, false, "symbolic link"},
		{"dir.pgp", fs.ModeDir, false, "not a regular file"},
		{"fifo.pgp", fs.ModeNamedPipe, false, "not a regular file"},
		{"a/b.pgp", 0, false, "slash"},
	} {
		ent, reason := Classify(info{c.name, c.mode})
		if (ent != nil) != c.fetch || !strings.Contains(reason, c.reason) || (c.reason == "") != (reason == "") {
			t.Errorf("Classify(%q, %v) = %v, %q; want fetch %v, reason %q", c.name, c.mode, ent, reason, c.fetch, c.reason)
		}
	}
}

func TestListingBounds(t *testing.T) {
	l := NewListing(3, 10)
	for i := range 12 {
		name := fmt.Sprintf("f%02d.pgp", 9-i)
		if l.Room() == 0 {
			break
		}
		ent, reason := Classify(info{name, 0})
		if i%4 == 3 {
			ent, reason = Classify(info{name, fs.ModeSymlink})
		}
		l.Add(name, ent, reason)
	}
	entries, skipped := l.Result(false)
	if len(entries) != 3 || entries[0].Name > entries[1].Name || entries[1].Name > entries[2].Name {
		t.Fatalf("entries %v, want the first 3 files, sorted", entries)
	}
	// 10 read: 2 symlinks refused, 8 files of which 3 kept and 5 cut.
	if len(skipped) != 4 || skipped[0].Reason != "symbolic link" ||
		!strings.Contains(skipped[2].Reason, "5 more entries") || !strings.Contains(skipped[3].Reason, "stopped after 10") {
		t.Fatalf("skipped %+v", skipped)
	}
	if l.Room() != 0 {
		t.Fatalf("room %d after the bound, want 0", l.Room())
	}
}

func TestListingCutsLongSkippedNames(t *testing.T) {
	l := NewListing(MaxEntries, MaxScanned)
	long := strings.Repeat("\u202e", 2000) + ".pgp"
	ent, reason := Classify(info{long, 0})
	l.Add(long, ent, reason)
	_, skipped := l.Result(true)
	if len(skipped) != 1 || len(skipped[0].Name) > maxSkippedName+32 || !strings.HasSuffix(skipped[0].Name, fmt.Sprintf("(%d bytes)", len(long))) {
		t.Fatalf("skipped %d entries, name %d bytes long; want one, cut at %d bytes and saying its length", len(skipped), len(skipped[0].Name), maxSkippedName)
	}
}
