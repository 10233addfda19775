package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// Rotation: the current file exchange.jsonl is renamed, under the append
// lock, to exchange-<YYYYMM>-<first seq>.jsonl (the month and seq of its
// first record, the seq zero-padded to 12 digits so that names sort in chain
// order), and the chain runs on in a new exchange.jsonl: its first line's
// prev is the SHA-256 of the rotated file's last line. A Log in another
// process notices the rename under the lock (its file is no longer the one
// at exchange.jsonl) and reopens.

// rotatedRE matches the names rotation gives; the group is the first seq.
var rotatedRE = regexp.MustCompile(`^exchange-\d{6}-(\d{12})\.jsonl$`)

// RotatedName is the name a current file whose first record has seq and
// time (RFC 3339) gets when it is rotated.
func RotatedName(seq int64, time string) string {
	month := strings.ReplaceAll(time, "-", "")
	if len(month) >= 6 {
		month = month[:6]
	}
	return fmt.Sprintf("exchange-%s-%012d.jsonl", month, seq)
}

// sortLogFiles orders rotated file names in chain order: names that
// rotation gives by their first seq (a clock set back cannot misorder
// them), after any others, which keep name order.
func sortLogFiles(names []string) {
	key := func(n string) int64 {
		if m := rotatedRE.FindStringSubmatch(n); m != nil {
			seq, _ := strconv.ParseInt(m[1], 10, 64)
			return seq
		}
		return -1
	}
	slices.SortStableFunc(names, func(a, b string) int {
		if ka, kb := key(a), key(b); ka != kb {
			return cmpInt(ka, kb)
		}
		return strings.Compare(a, b)
	})
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// isCurrent reports whether l.f is still the file at l.path. The caller
// holds the lock on l.f.
func (l *Log) isCurrent() (bool, error) {
	mine, err := l.f.Stat()
	if err != nil {
		return false, fmt.Errorf("stat exchange log %s: %w", l.path, err)
	}
	now, err := os.Stat(l.path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stat exchange log %s: %w", l.path, err)
	}
	return os.SameFile(mine, now), nil
}

// reopen replaces l.f by the file now at l.path (creating it when a
// rotation has not yet). The caller holds l.mu but no flock.
func (l *Log) reopen() error {
	f, err := openFile(l.path)
	if err != nil {
		return err
	}
	l.f.Close()
	l.f = f
	return nil
}

// head returns the seq and hash of the last line of the chain: that of
// tail t of the current file, or, when the current file is empty, that of
// the newest rotated file. The caller holds the lock.
func (l *Log) head(t tail) (int64, string, error) {
	if t.last != nil || l.dir == "" {
		return t.head(l.path)
	}
	files, err := logFiles(l.dir)
	if err != nil {
		return 0, "", err
	}
	files = slices.DeleteFunc(files, func(p string) bool { return filepath.Base(p) == FileName })
	if len(files) == 0 {
		return 0, ZeroHash, nil
	}
	prev := files[len(files)-1]
	f, err := os.Open(prev)
	if err != nil {
		return 0, "", fmt.Errorf("open rotated exchange log %s: %w", prev, err)
	}
	defer f.Close()
	pt, err := readTail(f)
	if err != nil {
		return 0, "", err
	}
	if pt.last == nil {
		return 0, "", fmt.Errorf("%w: rotated file %s holds no complete line", ErrCorrupt, prev)
	}
	return pt.head(prev)
}

// rotation returns the name to rotate the current file to before a record
// of time recTime is appended, or "" when it stays. t is the file's tail;
// the caller holds the exclusive lock.
func (l *Log) rotation(t tail, recTime string) (string, error) {
	if t.size == 0 || !l.rotates() {
		return "", nil
	}
	seq, first, err := readFirst(l.f)
	if err != nil || !l.due(t.size, first, recTime) {
		return "", err
	}
	return RotatedName(seq, first), nil
}

// rotates reports whether the Options ask for any rotation.
func (l *Log) rotates() bool {
	return l.opt.Monthly || l.opt.MaxBytes > 0
}

// due reports whether a current file of size bytes whose first record has
// time first is to be rotated before a record of time recTime.
func (l *Log) due(size int64, first, recTime string) bool {
	bySize := l.opt.MaxBytes > 0 && size >= l.opt.MaxBytes
	byMonth := l.opt.Monthly && len(first) >= 7 && len(recTime) >= 7 && recTime[:7] > first[:7]
	return bySize || byMonth
}

// firstTime returns the time of the first record of the current file, of
// tail t, when rotation may need it; "" when the file is empty.
func (l *Log) firstTime(t tail) (string, error) {
	if t.size == 0 || !l.rotates() {
		return "", nil
	}
	_, first, err := readFirst(l.f)
	return first, err
}

// readFirst returns the seq and time of the first line of f.
func readFirst(f *os.File) (int64, string, error) {
	buf := make([]byte, 0, tailChunk)
	chunk := make([]byte, tailChunk)
	for off := int64(0); ; {
		n, err := f.ReadAt(chunk, off)
		buf = append(buf, chunk[:n]...)
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			buf = buf[:i]
			break
		}
		if err != nil || len(buf) > MaxLine {
			return 0, "", fmt.Errorf("%w: first line of %s has no end", ErrCorrupt, f.Name())
		}
		off += int64(n)
	}
	var h struct {
		Seq  int64  `json:"seq"`
		Time string `json:"time"`
	}
	if err := json.Unmarshal(buf, &h); err != nil || h.Seq == 0 {
		return 0, "", fmt.Errorf("%w: first line of %s has no readable seq (%v)", ErrCorrupt, f.Name(), err)
	}
	return h.Seq, h.Time, nil
}

// rotateAndAppend renames the current file to name, opens the new current
// file and appends ws to it under its own lock (another Log may have created
// it and appended, or even rotated it, first). The caller holds the
// exclusive lock on the old file: locks are always taken old file first.
func (l *Log) rotateAndAppend(name string, ws []*waiter) error {
	dst := filepath.Join(l.dir, name)
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("rotate exchange log %s: %s already exists", l.path, dst)
	}
	if err := os.Rename(l.path, dst); err != nil {
		return fmt.Errorf("rotate exchange log %s to %s: %w", l.path, name, err)
	}
	if err := syncDir(l.dir); err != nil {
		return err
	}
	f, err := openFile(l.path)
	if err != nil {
		return err
	}
	l.f = f
	return l.lockCurrent(syscall.LOCK_EX, func() error { return l.appendLocked(ws) })
}
