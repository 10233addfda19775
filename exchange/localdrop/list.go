package localdrop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"

	"github.com/sealpost/sealpost/exchange/drop"
)

// pageSize is how many folder entries List reads at a time.
const pageSize = 256

// List returns the regular files in dir with final names (not starting
// with '.', ending in .pgp or .asc), sorted by name: the first drop.MaxEntries
// read. The folder is read page by page and reading stops after drop.MaxScanned
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
	l := drop.NewListing(d.maxEntries, d.maxScanned)
	complete, err := d.readPages(ctx, f, dir, l)
	if err != nil {
		return nil, nil, d.errorf("list", dir, err)
	}
	entries, skipped := l.Result(complete)
	return entries, skipped, nil
}

// openDir opens the folder dir for reading, refusing a symbolic link at any
// level and a folder swapped between the look and the open.
func (d *Drop) openDir(dir string) (*os.File, error) {
	fi, err := d.checkDir(dir)
	if err != nil {
		return nil, err
	}
	f, err := d.openFolder(dir)
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
func (d *Drop) readPages(ctx context.Context, f *os.File, dir string, l *drop.Listing) (bool, error) {
	for l.Room() > 0 {
		if err := context.Cause(ctx); err != nil {
			return false, err
		}
		ents, err := f.ReadDir(min(pageSize, l.Room()))
		for _, de := range ents {
			ent, reason := d.classify(dir, de)
			l.Add(de.Name(), ent, reason)
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
	}
	return drop.Classify(fi)
}
