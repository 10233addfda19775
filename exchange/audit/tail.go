package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
)

// tailChunk is how many bytes readTail reads at a time, going backwards.
const tailChunk = 8 << 10

// tail describes the end of a log file.
type tail struct {
	size int64  // file size
	end  int64  // offset just past the last newline (0 if none)
	torn int64  // bytes after the last newline (size - end)
	last []byte // the last complete line without its newline; nil if none
}

// readTail finds the last complete line of f by reading backwards from its
// end in chunks, never more than MaxLine bytes of it plus any torn tail.
func readTail(f *os.File) (tail, error) {
	fi, err := f.Stat()
	if err != nil {
		return tail{}, fmt.Errorf("stat exchange log %s: %w", f.Name(), err)
	}
	t := tail{size: fi.Size()}
	nl, err := lastNewline(f, t.size, t.size)
	if err != nil || nl < 0 {
		t.torn = t.size
		return t, err
	}
	t.end = nl + 1
	t.torn = t.size - t.end
	start, err := lastNewline(f, nl, MaxLine+1)
	if err != nil {
		return t, err
	}
	if start < 0 && nl > MaxLine {
		return t, fmt.Errorf("%w: last line of %s is longer than %d bytes", ErrCorrupt, f.Name(), MaxLine)
	}
	t.last = make([]byte, nl-(start+1))
	if _, err := f.ReadAt(t.last, start+1); err != nil {
		return t, fmt.Errorf("read last line of %s: %w", f.Name(), err)
	}
	return t, nil
}

// lastNewline returns the offset of the last '\n' in f before offset before,
// looking at no more than limit bytes; -1 if there is none.
func lastNewline(f *os.File, before, limit int64) (int64, error) {
	buf := make([]byte, tailChunk)
	floor := max(before-limit, 0)
	for end := before; end > floor; {
		start := max(end-tailChunk, floor)
		chunk := buf[:end-start]
		if _, err := f.ReadAt(chunk, start); err != nil {
			return -1, fmt.Errorf("read exchange log %s: %w", f.Name(), err)
		}
		if i := bytes.LastIndexByte(chunk, '\n'); i >= 0 {
			return start + int64(i), nil
		}
		end = start
	}
	return -1, nil
}

// head returns the seq and hash of the last complete line (0 and ZeroHash
// for an empty log). path names the log in errors.
func (t tail) head(path string) (int64, string, error) {
	if t.last == nil {
		return 0, ZeroHash, nil
	}
	var h struct {
		Seq *int64 `json:"seq"`
	}
	if err := json.Unmarshal(t.last, &h); err != nil || h.Seq == nil {
		return 0, "", fmt.Errorf("%w: last line of %s has no readable seq (%v)", ErrCorrupt, path, err)
	}
	return *h.Seq, hashHex(t.last), nil
}

// hashHex returns the lowercase hex SHA-256 of b.
func hashHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
