package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Log is an open exchange log. Its methods are safe for concurrent use, and
// several Logs (in one or many processes) may append to the same file: every
// Append holds an exclusive flock on the file while it writes.
type Log struct {
	mu   sync.Mutex
	f    *os.File
	dir  string
	path string
	opt  Options
}

// Options choose when a Log rotates its current file (see Rotate).
type Options struct {
	// Monthly rotates the current file before the first append of a month
	// (UTC, by the record's time) later than that of its first record.
	Monthly bool
	// MaxBytes rotates the current file before an append when it already
	// holds MaxBytes or more; 0 means no size limit. A file exceeds the
	// limit by at most one line.
	MaxBytes int64
}

// Open opens (creating) dir/exchange.jsonl for appending, without rotation.
// The folder is created 0700 and the file 0600. A torn last line (no
// trailing newline) left by a crash is cut off under the lock, and a
// "log.repaired" record naming the cut bytes' length and sha256 is appended.
func Open(dir string) (*Log, error) {
	return OpenWith(dir, Options{})
}

// OpenWith is Open with rotation options.
func OpenWith(dir string, opt Options) (*Log, error) {
	if err := makeDir(dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, FileName)
	f, err := openFile(path)
	if err != nil {
		return nil, err
	}
	l := &Log{f: f, dir: dir, path: path, opt: opt}
	err = l.locked(syscall.LOCK_EX, func() error {
		_, err := l.repair()
		return err
	})
	if err != nil {
		f.Close()
		return nil, err
	}
	return l, nil
}

// makeDir creates dir 0700 if it is missing and syncs its parent.
func makeDir(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create audit folder %s: %w", dir, err)
	}
	return syncDir(filepath.Dir(dir))
}

// openFile opens path for appending, creating it 0600 and syncing its folder
// when it did not exist.
func openFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		f, err = os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
		if err != nil {
			return nil, fmt.Errorf("open exchange log %s: %w", path, err)
		}
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("create exchange log %s: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// syncDir fsyncs a folder so that a new entry in it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open folder %s to sync it: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return nil
}

// Append writes r as the next line of the log and syncs it to disk before it
// returns. Under an exclusive flock it re-reads the last line for seq and
// prev (cutting off a torn last line first, see Open), rotates the current
// file when the Options say so, fills in Seq and Prev, and Time when empty,
// and returns the record as written. A record without an
// Event, with an Outcome other than ok, error or rejected, with a Time that is
// not RFC 3339 UTC, or longer than MaxLine once encoded, is refused with
// ErrInvalidRecord. A log whose last line has no readable seq is refused with
// ErrCorrupt.
func (l *Log) Append(r Record) (Record, error) {
	if err := checkRecord(r); err != nil {
		return Record{}, err
	}
	if r.Time == "" {
		r.Time = time.Now().UTC().Format(TimeLayout)
	}
	var out Record
	err := l.locked(syscall.LOCK_EX, func() error {
		var err error
		out, err = l.appendLocked(r)
		return err
	})
	return out, err
}

// appendLocked repairs, rotates if due and writes r. The caller holds the
// exclusive lock on the current file.
func (l *Log) appendLocked(r Record) (Record, error) {
	t, err := l.repair()
	if err != nil {
		return Record{}, err
	}
	name, err := l.rotation(t, r.Time)
	if err != nil {
		return Record{}, err
	}
	if name != "" {
		return l.rotateAndWrite(name, r)
	}
	return l.write(t, r)
}

// checkRecord refuses a record that Verify would not accept.
func checkRecord(r Record) error {
	if r.Event == "" {
		return fmt.Errorf("%w: event is empty", ErrInvalidRecord)
	}
	if !validOutcome(r.Outcome) {
		return fmt.Errorf("%w: outcome %q is not ok, error or rejected", ErrInvalidRecord, r.Outcome)
	}
	if r.Time != "" && !validTime(r.Time) {
		return fmt.Errorf("%w: time %q is not RFC 3339 UTC", ErrInvalidRecord, r.Time)
	}
	return nil
}

// Head returns the seq and SHA-256 of the log's last complete line; an empty
// log has seq 0 and ZeroHash.
func (l *Log) Head() (seq int64, sha256 string, err error) {
	err = l.locked(syscall.LOCK_SH, func() error {
		t, err := readTail(l.f)
		if err != nil {
			return err
		}
		seq, sha256, err = l.head(t)
		return err
	})
	return seq, sha256, err
}

// Close closes the log file.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return ErrClosed
	}
	err := l.f.Close()
	l.f = nil
	if err != nil {
		return fmt.Errorf("close exchange log %s: %w", l.path, err)
	}
	return nil
}

// locked runs fn holding l.mu and a flock of kind how on the current file
// (see lockCurrent).
func (l *Log) locked(how int, fn func() error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return ErrClosed
	}
	return l.lockCurrent(how, fn)
}

// lockCurrent runs fn holding a flock of kind how on the current file.
// When another Log rotated the file away meanwhile, it reopens the new
// current file first (and again, until the file it locked is current). A
// file that fn rotated away is closed after it is unlocked.
func (l *Log) lockCurrent(how int, fn func() error) error {
	for {
		f := l.f
		if err := flock(int(f.Fd()), how); err != nil {
			return fmt.Errorf("lock exchange log %s: %w", l.path, err)
		}
		current, err := l.isCurrent()
		if err == nil && current {
			err = fn()
			flock(int(f.Fd()), syscall.LOCK_UN)
			if l.f != f {
				f.Close()
			}
			return err
		}
		flock(int(f.Fd()), syscall.LOCK_UN)
		if err == nil {
			err = l.reopen()
		}
		if err != nil {
			return err
		}
	}
}

// flock calls flock(2), retrying when a signal interrupts the wait.
func flock(fd, how int) error {
	for {
		err := syscall.Flock(fd, how)
		if err != syscall.EINTR {
			return err
		}
	}
}

// repair cuts off a torn last line, appending a log.repaired record about it,
// and returns the tail of the (now whole) log. The caller holds the lock.
func (l *Log) repair() (tail, error) {
	t, err := readTail(l.f)
	if err != nil || t.torn == 0 {
		return t, err
	}
	sum, err := hashRange(l.f, t.end, t.torn)
	if err != nil {
		return t, err
	}
	if err := l.f.Truncate(t.end); err != nil {
		return t, fmt.Errorf("cut torn last line of %s: %w", l.path, err)
	}
	cut := t.torn
	t.size, t.torn = t.end, 0
	r := Record{Event: EvRepaired, Outcome: OutcomeOK, Bytes: cut, SHA256: sum,
		Detail: fmt.Sprintf("cut off a torn last line (no newline) of %d bytes, sha256 %s", cut, sum)}
	if _, err := l.write(t, r); err != nil {
		return t, err
	}
	return readTail(l.f)
}

// write appends r after tail t and syncs. The caller holds the lock.
func (l *Log) write(t tail, r Record) (Record, error) {
	seq, prev, err := l.head(t)
	if err != nil {
		return Record{}, err
	}
	r.Seq, r.Prev = seq+1, prev
	if r.Time == "" {
		r.Time = time.Now().UTC().Format(TimeLayout)
	}
	line, err := encode(r)
	if err != nil {
		return Record{}, err
	}
	if n, err := l.f.Write(line); err != nil || n != len(line) {
		if err == nil {
			err = io.ErrShortWrite
		}
		if terr := l.f.Truncate(t.size); terr != nil {
			err = errors.Join(err, terr)
		}
		return Record{}, fmt.Errorf("write to exchange log %s: %w", l.path, err)
	}
	if err := l.f.Sync(); err != nil {
		return Record{}, fmt.Errorf("sync exchange log %s: %w", l.path, err)
	}
	return r, nil
}

// encode renders r as one line ending in a newline.
func encode(r Record) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidRecord, err)
	}
	line := buf.Bytes()
	body := line[:len(line)-1]
	if bytes.ContainsAny(body, "\r\n") {
		return nil, fmt.Errorf("%w: encoded line holds a raw newline", ErrInvalidRecord)
	}
	if len(body) > MaxLine {
		return nil, fmt.Errorf("%w: encoded line is %d bytes, more than %d", ErrInvalidRecord, len(body), MaxLine)
	}
	return line, nil
}

// hashRange returns the hex SHA-256 of n bytes of f at off.
func hashRange(f *os.File, off, n int64) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, off, n)); err != nil {
		return "", fmt.Errorf("read torn last line of %s: %w", f.Name(), err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
