package audit

import (
	"bytes"
	"cmp"
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
	mu    sync.Mutex
	f     *os.File
	dir   string
	path  string
	opt   Options
	syncs int64 // fsyncs of log files, for tests; under mu

	qmu   sync.Mutex
	queue []*waiter // Appends waiting for the next group commit; under qmu
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
		f, err = os.OpenFile(path, os.O_RDWR|os.O_APPEND|syscall.O_NOFOLLOW, 0)
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
// not RFC 3339 UTC is refused with ErrInvalidRecord. A record is never
// refused for its length: one that would not fit on a line of MaxLine bytes
// has its long text members cut (see MaxField), so that a step that depends
// on its record always gets it. A log whose last line has no readable seq is
// refused with ErrCorrupt.
//
// Concurrent Appends on one Log commit as a group: the call that gets the
// Log next writes every record queued by then in chain order, in one write
// and one fsync, under one flock, and each call returns its own record.
func (l *Log) Append(r Record) (Record, error) {
	if err := checkRecord(r); err != nil {
		return Record{}, err
	}
	if r.Time == "" {
		r.Time = time.Now().UTC().Format(TimeLayout)
	}
	w := &waiter{r: fitLine(r)}
	l.qmu.Lock()
	l.queue = append(l.queue, w)
	l.qmu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if !w.done {
		l.commit(l.takeQueue())
	}
	return w.out, w.err
}

// waiter is one Append call whose record is queued for the next group
// commit. Its result fields are set, and done, under l.mu.
type waiter struct {
	r    Record
	out  Record
	err  error
	done bool
}

// finish sets w's result.
func (w *waiter) finish(out Record, err error) {
	w.out, w.err, w.done = out, err, true
}

// takeQueue removes and returns every queued waiter.
func (l *Log) takeQueue() []*waiter {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	ws := l.queue
	l.queue = nil
	return ws
}

// commit writes the records of ws under the exclusive lock and finishes
// every waiter: those not written get the error. The caller holds l.mu.
func (l *Log) commit(ws []*waiter) {
	err := ErrClosed
	if l.f != nil {
		err = l.lockCurrent(syscall.LOCK_EX, func() error { return l.appendLocked(ws) })
	}
	for _, w := range ws {
		if !w.done {
			w.finish(Record{}, err)
		}
	}
}

// appendLocked repairs, then writes ws in order, rotating the current file
// before a record when it is due. The caller holds the exclusive lock on the
// current file.
func (l *Log) appendLocked(ws []*waiter) error {
	t, err := l.repair()
	if err != nil {
		return err
	}
	name, err := l.rotation(t, ws[0].r.Time)
	if err != nil {
		return err
	}
	if name != "" {
		return l.rotateAndAppend(name, ws)
	}
	n, err := l.writeSegment(t, ws)
	if err != nil || n == len(ws) {
		return err
	}
	return l.appendLocked(ws[n:])
}

// checkRecord refuses a record that Verify would not accept.
func checkRecord(r Record) error {
	if r.Event == "" {
		return fmt.Errorf("%w: event is empty", ErrInvalidRecord)
	}
	if !validOutcome(r.Outcome) {
		return fmt.Errorf("%w: outcome %q is not ok, error or rejected", ErrInvalidRecord, r.Outcome)
	}
	if r.Time != "" && (len(r.Time) > maxTime || !validTime(r.Time)) {
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
	w := &waiter{r: Record{Event: EvRepaired, Outcome: OutcomeOK, Bytes: cut, SHA256: sum,
		Time:   time.Now().UTC().Format(TimeLayout),
		Detail: fmt.Sprintf("cut off a torn last line (no newline) of %d bytes, sha256 %s", cut, sum)}}
	if _, err := l.writeSegment(t, []*waiter{w}); err != nil {
		return t, err
	}
	if w.err != nil {
		return t, w.err
	}
	return readTail(l.f)
}

// writeSegment appends the records of ws after tail t, chained on from it,
// in one write, and syncs once; a record that does not encode gets its
// error and is skipped. It stops before a record (not the first) for which
// the current file is due for rotation, and returns how many waiters it
// took. The caller holds the lock.
func (l *Log) writeSegment(t tail, ws []*waiter) (int, error) {
	seq, prev, err := l.head(t)
	if err != nil {
		return 0, err
	}
	first, err := l.firstTime(t)
	if err != nil {
		return 0, err
	}
	var buf []byte
	var written []*waiter
	n := 0
	for ; n < len(ws); n++ {
		w := ws[n]
		if n > 0 && l.due(t.size+int64(len(buf)), first, w.r.Time) {
			break
		}
		w.out = w.r
		w.out.Seq, w.out.Prev = seq+1, prev
		line, err := encode(w.out)
		if err != nil {
			w.finish(Record{}, err)
			continue
		}
		seq, prev = w.out.Seq, hashHex(line[:len(line)-1])
		first = cmp.Or(first, w.out.Time)
		buf = append(buf, line...)
		written = append(written, w)
	}
	if err := l.writeSync(t.size, buf); err != nil {
		return n, err
	}
	for _, w := range written {
		w.finish(w.out, nil)
	}
	return n, nil
}

// writeSync appends buf to the current file, of size size, and syncs it. A
// failed write is cut off again.
func (l *Log) writeSync(size int64, buf []byte) error {
	if len(buf) == 0 {
		return nil
	}
	if n, err := l.f.Write(buf); err != nil || n != len(buf) {
		if err == nil {
			err = io.ErrShortWrite
		}
		if terr := l.f.Truncate(size); terr != nil {
			err = errors.Join(err, terr)
		}
		return fmt.Errorf("write to exchange log %s: %w", l.path, err)
	}
	l.syncs++
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("sync exchange log %s: %w", l.path, err)
	}
	return nil
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
