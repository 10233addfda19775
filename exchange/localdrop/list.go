package localdrop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"

	"github.com/sealpost/sealpost/exchange/drop"
	"github.com/sealpost/sealpost/internal/safetext"
)

// MaxEntries caps the entries List returns.
const MaxEntries = 10000

// MaxScanned caps the folder entries of any kind List reads.
const MaxScanned = 100000

// maxSkipped caps the skipped names List reports one by one.
const maxSkipped = 100

// maxSkippedName bounds a skipped name as reported (see safetext.Cut).
const maxSkippedName = 1024

// pageSize is how many folder entries List reads at a time.
const pageSize = 256

// listing gathers what List returns.
type listing struct {
	entries []drop.Entry
	skipped []drop.Skipped
	scanned int
	cut     int
}

// List returns the regular files in dir with final names (not starting
// with '.', ending in .pgp or .asc), sorted by name: the first MaxEntries
// read. The folder is read page by page and reading stops after MaxScanned
// entries of any kind. Hostile names, symbolic links, folders and other
// non-regular final names are returned in skipped with a reason, as is the
// cut when the listing is truncated. Hidden files (uploads in progress) and
// other names are ignored silently. ctx is checked before each page.
func (d *Drop) List(ctx context.Context, dir string) ([]drop.Entry, []drop.Skipped, error) {
	if err := d.start(ctx, "list", dir); err != nil {
		return nil, nil, err
	}
	f, err := d.openDir(dir)
	if err != nil {
		return nil, nil, d.errorf("list", dir, err)
	}
	defer f.Close()
	var l listing
	complete, err := d.readPages(ctx, f, dir, &l)
	if err != nil {
		return nil, nil, d.errorf("list", dir, err)
	}
	sort.Slice(l.entries, func(i, j int) bool { return l.entries[i].Name < l.entries[j].Name })
	if l.cut > 0 {
		l.skipped = append(l.skipped, drop.Skipped{Reason: fmt.Sprintf("%d more entries not listed (at most %d files and %d skipped names are reported)", l.cut, d.maxEntries, maxSkipped)})
	}
	if !complete {
		l.skipped = append(l.skipped, drop.Skipped{Reason: fmt.Sprintf("listing truncated: reading stopped after %d entries", d.maxScanned)})
	}
	return l.entries, l.skipped, nil
}

// openDir opens the folder dir for reading, refusing a symbolic link at any
// level and a folder swapped between the look and the open.
func (d *Drop) openDir(dir string) (*os.File, error) {
	fi, err := d.checkDir(dir)
	if err != nil {
		return nil, err
	}
	f, err := d.root.Open(rel(dir))
	if err != nil {
		return nil, err
	}
	if ofi, err := f.Stat(); err != nil || !os.SameFile(fi, ofi) {
		f.Close()
		return nil, fmt.Errorf("folder %s changed while it was opened", dir)
	}
	return f, nil
}

// readPages reads f page by page into l until the folder's end (true),
// d.maxScanned entries (false) or the end of ctx.
func (d *Drop) readPages(ctx context.Context, f *os.File, dir string, l *listing) (bool, error) {
	for l.scanned < d.maxScanned {
		if err := context.Cause(ctx); err != nil {
			return false, err
		}
		ents, err := f.ReadDir(min(pageSize, d.maxScanned-l.scanned))
		for _, de := range ents {
			l.scanned++
			d.add(dir, de, l)
		}
		if errors.Is(err, io.EOF) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
	return false, nil
}

// add classifies one folder entry into l.
func (d *Drop) add(dir string, de fs.DirEntry, l *listing) {
	ent, reason := d.classify(dir, de)
	switch {
	case reason != "":
		if len(l.skipped) < maxSkipped {
			l.skipped = append(l.skipped, drop.Skipped{Name: safetext.Cut(de.Name(), maxSkippedName), Reason: reason})
		} else {
			l.cut++
		}
	case ent == nil:
	case len(l.entries) == d.maxEntries:
		l.cut++
	default:
		l.entries = append(l.entries, *ent)
	}
}

// classify returns the entry for a wanted file, a reason for a refused one,
// or neither for a name that is not ours to fetch. Only final names are
// looked at (lstat), never followed.
func (d *Drop) classify(dir string, de fs.DirEntry) (*drop.Entry, string) {
	name := de.Name()
	if reason := drop.HostileReason(name); reason != "" {
		return nil, reason
	}
	if !drop.IsFinalName(name) {
		return nil, ""
	}
	fi, err := d.root.Lstat(path.Join(rel(dir), name))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, "" // gone since the folder was read
	case err != nil:
		return nil, fmt.Sprintf("cannot be looked at: %v", err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return nil, "symbolic link"
	case fi.IsDir():
		return nil, "folder"
	case !fi.Mode().IsRegular():
		return nil, "not a regular file"
	}
	return &drop.Entry{Name: name, Size: fi.Size(), ModTime: fi.ModTime()}, ""
}
