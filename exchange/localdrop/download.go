package localdrop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"syscall"
	"time"

	"github.com/sealpost/sealpost/exchange/drop"
)

// chunkSize is how much a download reads between two looks at its context.
const chunkSize = 256 << 10

// readFlags open a file for reading without blocking on a FIFO swapped in.
const readFlags = os.O_RDONLY | syscall.O_NONBLOCK

// DownloadListed copies dir/ent.Name, a file as List returned it, into w
// and returns the byte count. It fails with drop.ErrChanged, before or
// after reading, when the file's size or modification time is no longer
// what the listing said, when it holds more bytes than listed, or when it
// was replaced (by a link, by another file) since it was looked at. At most
// ent.Size+1 bytes are read; ctx is checked before each chunk.
func (d *Drop) DownloadListed(ctx context.Context, dir string, ent drop.Entry, w io.Writer) (int64, error) {
	p := path.Join(dir, ent.Name)
	if err := d.start(ctx, "download", p); err != nil {
		return 0, err
	}
	if reason := drop.HostileReason(ent.Name); reason != "" {
		return 0, d.errorf("download", p, fmt.Errorf("%s: %w", reason, drop.ErrName))
	}
	f, err := d.openListed(dir, ent)
	if err != nil {
		return 0, d.errorf("download", p, err)
	}
	defer f.Close()
	n, err := copyCapped(ctx, w, f, ent.Size)
	if err == nil {
		err = d.recheck(dir, ent, f)
	}
	if err == nil && n != ent.Size {
		err = fmt.Errorf("read %d bytes of a %d-byte file: %w", n, ent.Size, drop.ErrSize)
	}
	if err != nil {
		return n, d.errorf("download", p, err)
	}
	return n, nil
}

// openListed opens the listed file for reading after checking that it is
// still a regular file as listed, and that the file opened is the file
// looked at (not a link or another file swapped in).
func (d *Drop) openListed(dir string, ent drop.Entry) (*os.File, error) {
	if _, err := d.checkDir(dir); err != nil {
		return nil, err
	}
	name := path.Join(rel(dir), ent.Name)
	fi, err := d.root.Lstat(name)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%s): %w", fi.Mode().Type(), drop.ErrChanged)
	}
	if err := unchanged(ent, fi); err != nil {
		return nil, err
	}
	f, err := d.root.OpenFile(name, readFlags, 0)
	if err != nil {
		return nil, err
	}
	if ofi, err := f.Stat(); err != nil || !os.SameFile(fi, ofi) {
		f.Close()
		return nil, fmt.Errorf("replaced between the look and the open: %w", drop.ErrChanged)
	}
	return f, nil
}

// copyCapped copies src into w in chunks, checking ctx before each, and
// fails with drop.ErrChanged once src yields more than size bytes.
func copyCapped(ctx context.Context, w io.Writer, src io.Reader, size int64) (int64, error) {
	buf := make([]byte, min(chunkSize, size+1))
	var n int64
	for {
		if err := context.Cause(ctx); err != nil {
			return n, err
		}
		k, err := io.ReadFull(src, buf[:min(int64(len(buf)), size+1-n)])
		past := n+int64(k) > size
		if past {
			k-- // the byte past the size only detects growth
		}
		if k > 0 {
			if _, werr := w.Write(buf[:k]); werr != nil {
				return n, werr
			}
			n += int64(k)
		}
		if past {
			return n, fmt.Errorf("holds more than the %d bytes listed: %w", size, drop.ErrChanged)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// recheck compares the file, open and by its name, with the listing after
// the read: a file that shrank, grew or was touched meanwhile is ErrChanged.
func (d *Drop) recheck(dir string, ent drop.Entry, f *os.File) error {
	ofi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat after reading: %w", err)
	}
	if err := unchanged(ent, ofi); err != nil {
		return err
	}
	fi, err := d.root.Lstat(path.Join(rel(dir), ent.Name))
	if err != nil {
		return fmt.Errorf("stat after reading: %w", err)
	}
	if !os.SameFile(fi, ofi) {
		return fmt.Errorf("replaced while it was read: %w", drop.ErrChanged)
	}
	return nil
}

// unchanged returns an ErrChanged error when fi's size or modification time
// differs from the listing.
func unchanged(ent drop.Entry, fi fs.FileInfo) error {
	switch {
	case fi.Size() != ent.Size:
		return fmt.Errorf("size is %d bytes, the listing said %d: %w", fi.Size(), ent.Size, drop.ErrChanged)
	case !fi.ModTime().Equal(ent.ModTime):
		return fmt.Errorf("modified at %s, the listing said %s: %w", fi.ModTime().UTC().Format(time.RFC3339Nano), ent.ModTime.UTC().Format(time.RFC3339Nano), drop.ErrChanged)
	}
	return nil
}
