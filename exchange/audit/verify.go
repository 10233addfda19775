package audit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// VerifyError names the first line of the log at which the chain breaks.
type VerifyError struct {
	File   string // path of the log file
	Line   int64  // line number in File, from 1
	Seq    int64  // the line's seq, 0 if it has none
	Reason string
}

// Error returns "path:line: seq N: reason".
func (e *VerifyError) Error() string {
	if e.Seq == 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason)
	}
	return fmt.Sprintf("%s:%d: seq %d: %s", e.File, e.Line, e.Seq, e.Reason)
}

// Unwrap returns ErrCorrupt.
func (e *VerifyError) Unwrap() error { return ErrCorrupt }

// Summary describes a verified log.
type Summary struct {
	Records    int64    // lines verified
	HeadSeq    int64    // seq of the last line verified (0 for an empty log)
	HeadSHA256 string   // its SHA-256 (ZeroHash for an empty log)
	Files      []string // paths of the log files, in chain order
}

// errStop ends a walk early without error.
var errStop = errors.New("stop")

// Verify checks every line of every log file in dir (rotated files
// "exchange-*.jsonl" in chain order, see RotatedName, then exchange.jsonl): each line parses,
// has seq, time, event, outcome and prev, its seq follows the previous line's,
// its prev is the SHA-256 of the previous line, and it ends in a newline.
// It returns a *VerifyError for the first bad line, with the Summary of the
// lines before it. An edited line is caught at the line after it (whose prev
// no longer matches); the last line is vouched for only by a checkpoint
// (see VerifyHead). Verify only reads; it streams in constant memory.
func Verify(dir string) (Summary, error) {
	return walk(dir, nil)
}

// VerifyHead checks that the log in dir holds line seq with SHA-256 sum, and
// that the chain up to it is whole. It returns an error wrapping
// ErrHeadMismatch if the line is missing or differs, or a *VerifyError.
func VerifyHead(dir string, seq int64, sum string) error {
	found := false
	_, err := walk(dir, func(l line) error {
		if l.seq != seq {
			return nil
		}
		if l.sum != sum {
			return fmt.Errorf("%w: line seq %d of %s has sha256 %s, not %s", ErrHeadMismatch, seq, l.file, l.sum, sum)
		}
		found = true
		return errStop
	})
	if err != nil {
		return err
	}
	if seq == 0 && sum != ZeroHash {
		return fmt.Errorf("%w: the head of an empty log is %s, not %s", ErrHeadMismatch, ZeroHash, sum)
	}
	if !found && seq != 0 {
		return fmt.Errorf("%w: the log in %s has no line seq %d", ErrHeadMismatch, dir, seq)
	}
	return nil
}

// Scan calls fn for each record of the log in dir, in order, streaming. It
// checks the chain as it goes and stops with a *VerifyError at the first bad
// line, or with fn's error.
func Scan(dir string, fn func(Record) error) error {
	_, err := walk(dir, func(l line) error { return fn(l.rec) })
	return err
}

// ScanSummary is Scan that also returns the Summary of the lines verified
// (up to the first bad one), for a caller that reports both.
func ScanSummary(dir string, fn func(Record) error) (Summary, error) {
	return walk(dir, func(l line) error { return fn(l.rec) })
}

// line is one verified line handed to a walk's callback.
type line struct {
	file string
	num  int64
	seq  int64
	sum  string
	rec  Record
}

// chain is the state carried from one line to the next, across files.
type chain struct {
	sum Summary
	fn  func(line) error
}

// walk verifies the log in dir, calling fn (if not nil) for each good line.
func walk(dir string, fn func(line) error) (Summary, error) {
	files, err := logFiles(dir)
	if err != nil {
		return Summary{}, err
	}
	c := &chain{sum: Summary{HeadSHA256: ZeroHash, Files: files}, fn: fn}
	for _, path := range files {
		if err := c.file(path); err != nil {
			if errors.Is(err, errStop) {
				break
			}
			return c.sum, err
		}
	}
	return c.sum, nil
}

// logFiles lists the log files in dir in chain order.
func logFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read audit folder %s: %w", dir, err)
	}
	var names []string
	current := false
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if ok, _ := filepath.Match("exchange-*.jsonl", e.Name()); ok {
			names = append(names, e.Name())
		}
		current = current || e.Name() == FileName
	}
	sortLogFiles(names)
	if current {
		names = append(names, FileName)
	}
	files := make([]string, len(names))
	for i, n := range names {
		files[i] = filepath.Join(dir, n)
	}
	return files, nil
}

// file verifies the lines of one log file, up to its size when it was opened
// (taken under a shared lock, so no half-written line of a concurrent Append
// is read).
func (c *chain) file(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open exchange log %s: %w", path, err)
	}
	defer f.Close()
	size, err := lockedSize(f)
	if err != nil {
		return err
	}
	return c.lines(path, newLineReader(io.NewSectionReader(f, 0, size)))
}

// lockedSize returns the size of f read under a shared flock.
func lockedSize(f *os.File) (int64, error) {
	fd := int(f.Fd())
	if err := flock(fd, syscall.LOCK_SH); err != nil {
		return 0, fmt.Errorf("lock exchange log %s: %w", f.Name(), err)
	}
	defer flock(fd, syscall.LOCK_UN)
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("stat exchange log %s: %w", f.Name(), err)
	}
	return fi.Size(), nil
}

// lineErr turns a line reading error into a *VerifyError, or passes an I/O
// error through.
func (c *chain) lineErr(path string, num, seq int64, err error) error {
	if errors.Is(err, errLineTooLong) {
		return &VerifyError{File: path, Line: num, Seq: seq, Reason: err.Error()}
	}
	return fmt.Errorf("read exchange log %s: %w", path, err)
}

// line checks one parsed line and advances the chain.
func (c *chain) line(path string, num int64, p *parsed) error {
	bad := func(seq int64, format string, args ...any) error {
		return &VerifyError{File: path, Line: num, Seq: seq, Reason: fmt.Sprintf(format, args...)}
	}
	if !p.complete {
		return bad(0, "torn last line (no newline)")
	}
	if p.bad != "" {
		return bad(0, "%s", p.bad)
	}
	if err := c.check(p.rec); err != nil {
		return bad(p.rec.Seq, "%s", err.Error())
	}
	if c.fn != nil {
		if err := c.fn(line{file: path, num: num, seq: p.rec.Seq, sum: p.sum, rec: p.rec}); err != nil {
			return err
		}
	}
	c.sum.Records++
	c.sum.HeadSeq, c.sum.HeadSHA256 = p.rec.Seq, p.sum
	return nil
}

// check checks a parsed line's fields and links.
func (c *chain) check(r Record) error {
	if err := required(r); err != nil {
		return err
	}
	if want := c.sum.HeadSeq + 1; r.Seq != want {
		return fmt.Errorf("expected seq %d (a line was removed, inserted or reordered)", want)
	}
	if r.Prev != c.sum.HeadSHA256 {
		return fmt.Errorf("prev %q does not match the previous line's sha256 %s (that line was edited, or a line was removed, inserted or reordered)", r.Prev, c.sum.HeadSHA256)
	}
	if !validOutcome(r.Outcome) {
		return fmt.Errorf("bad outcome %q (want ok, error or rejected)", r.Outcome)
	}
	if !validTime(r.Time) {
		return fmt.Errorf("bad time %q (want RFC 3339 UTC)", r.Time)
	}
	return nil
}

// required reports the first missing (or empty, or zero) required field.
func required(r Record) error {
	for _, f := range []struct {
		name    string
		missing bool
	}{{"seq", r.Seq == 0}, {"time", r.Time == ""}, {"event", r.Event == ""}, {"outcome", r.Outcome == ""}, {"prev", r.Prev == ""}} {
		if f.missing {
			return fmt.Errorf("missing required field %s", f.name)
		}
	}
	return nil
}

// errLineTooLong reports a line longer than MaxLine.
var errLineTooLong = fmt.Errorf("line longer than %d bytes", MaxLine)

// lineReader reads lines of at most MaxLine bytes, reusing one buffer.
type lineReader struct {
	r   *bufio.Reader
	buf []byte
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// next returns the next line without its newline, and whether it had one.
// The line is valid until the next call. It returns io.EOF at the end.
func (lr *lineReader) next() ([]byte, bool, error) {
	lr.buf = lr.buf[:0]
	for {
		chunk, err := lr.r.ReadSlice('\n')
		if len(lr.buf)+len(chunk) > MaxLine+1 {
			return nil, false, errLineTooLong
		}
		switch {
		case err == nil:
			if len(lr.buf) == 0 {
				return chunk[:len(chunk)-1], true, nil
			}
			lr.buf = append(lr.buf, chunk...)
			return lr.buf[:len(lr.buf)-1], true, nil
		case errors.Is(err, bufio.ErrBufferFull):
			lr.buf = append(lr.buf, chunk...)
		case err == io.EOF:
			lr.buf = append(lr.buf, chunk...)
			if len(lr.buf) == 0 {
				return nil, false, io.EOF
			}
			return lr.buf, false, nil
		default:
			return nil, false, err
		}
	}
}
