package audit

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sealpost/sealpost/internal/safetext"
)

// Output formats of NewRecordWriter.
const (
	FormatTable = "table"
	FormatJSON  = "json"
	FormatCSV   = "csv"
)

// RecordWriter writes records one at a time in constant memory. Flush
// writes out what is buffered.
type RecordWriter interface {
	Write(Record) error
	Flush() error
}

// NewRecordWriter returns a writer of format: "table" (aligned columns for
// people), "json" (one object a line, as in the log) or "csv" (a header and
// every member). In table and csv, control characters and invisible
// direction marks in names are escaped (see Escape) so that every record
// stays on one line and reads as it is.
func NewRecordWriter(w io.Writer, format string) (RecordWriter, error) {
	switch format {
	case FormatTable:
		return &tableWriter{w: bufio.NewWriterSize(w, 64<<10)}, nil
	case FormatJSON:
		return &jsonWriter{w: bufio.NewWriterSize(w, 64<<10)}, nil
	case FormatCSV:
		return &csvWriter{w: csv.NewWriter(w)}, nil
	}
	return nil, fmt.Errorf("format %q is not one of table, json, csv", format)
}

// Escape returns s with every character that does not show as itself
// (safetext.Invisible: controls C0, DEL and C1, format characters such as
// direction marks and overrides, zero-width spaces and joiners, U+FEFF and
// soft hyphens, line and paragraph separators, private-use characters and
// noncharacters), and every byte that is not UTF-8, written as a Go escape
// (\n, \x1b, \u202e, \u200b), and backslashes doubled, so that s prints on
// one line as what it is.
func Escape(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\':
			b.WriteString(`\\`)
		case escapedRune(r):
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func needsEscape(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || r == '\\' || escapedRune(r) {
			return true
		}
	}
	return false
}

// escapedRune reports whether Escape writes r as an escape.
func escapedRune(r rune) bool {
	return safetext.Invisible(r)
}

// tableWriter writes fixed-width columns (no buffering of rows, unlike
// text/tabwriter), the last column free.
type tableWriter struct {
	w      *bufio.Writer
	header bool
}

const tableRow = "%-7s %-24s %-18s %-8s %-10s %-8s %-36s %10s  %s\n"

func (t *tableWriter) Write(r Record) error {
	if !t.header {
		fmt.Fprintf(t.w, tableRow, "SEQ", "TIME", "EVENT", "OUTCOME", "PARTNER", "KIND", "BUNDLE", "BYTES", "FILE / NOTES")
		t.header = true
	}
	_, err := fmt.Fprintf(t.w, tableRow, strconv.FormatInt(r.Seq, 10), Escape(r.Time), Escape(r.Event), Escape(r.Outcome),
		dash(r.Partner), dash(r.Kind), dash(r.Bundle), bytesCol(r.Bytes), notes(r))
	return err
}

func (t *tableWriter) Flush() error { return t.w.Flush() }

// dash is Escape(s), or "-" for an empty s.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return Escape(s)
}

func bytesCol(n int64) string {
	if n == 0 {
		return "-"
	}
	return strconv.FormatInt(n, 10)
}

// notes is the table's last column: file, reference, reply-to, code,
// error and detail, each escaped.
func notes(r Record) string {
	var parts []string
	add := func(label, v string) {
		if v != "" {
			parts = append(parts, label+Escape(v))
		}
	}
	add("", r.File)
	add("ref=", r.Reference)
	add("in_reply_to=", r.InReplyTo)
	add("code=", r.Code)
	add("error=", r.Error)
	add("", r.Detail)
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, "  ")
}

// jsonWriter writes each record as the log does: one object a line.
type jsonWriter struct{ w *bufio.Writer }

func (j *jsonWriter) Write(r Record) error {
	line, err := encode(r)
	if err != nil {
		return err
	}
	_, err = j.w.Write(line)
	return err
}

func (j *jsonWriter) Flush() error { return j.w.Flush() }

// csvColumns are the CSV header: every member of Record, the peer's log
// head as two columns.
var csvColumns = []string{"seq", "time", "event", "outcome", "prev", "partner", "bundle", "kind", "file", "bytes",
	"sha256", "error", "code", "in_reply_to", "reference", "self", "host", "host_key", "user",
	"peer_log_seq", "peer_log_sha256", "detail"}

// csvWriter writes RFC 4180 CSV. Text cells are escaped like the table,
// and a cell that a spreadsheet would take for a formula (=, +, -, @) gets
// a leading apostrophe.
type csvWriter struct {
	w      *csv.Writer
	header bool
}

func (c *csvWriter) Write(r Record) error {
	if !c.header {
		if err := c.w.Write(csvColumns); err != nil {
			return err
		}
		c.header = true
	}
	var peerSeq, peerSum string
	if r.PeerLogHead != nil {
		peerSeq, peerSum = strconv.FormatInt(r.PeerLogHead.Seq, 10), r.PeerLogHead.SHA256
	}
	row := []string{strconv.FormatInt(r.Seq, 10), r.Time, r.Event, r.Outcome, r.Prev, r.Partner, r.Bundle, r.Kind, r.File,
		strconv.FormatInt(r.Bytes, 10), r.SHA256, r.Error, r.Code, r.InReplyTo, r.Reference, r.Self, r.Host, r.HostKey, r.User,
		peerSeq, peerSum, r.Detail}
	for i, v := range row {
		row[i] = csvCell(v)
	}
	return c.w.Write(row)
}

func (c *csvWriter) Flush() error {
	c.w.Flush()
	return c.w.Error()
}

// csvCell escapes a cell and defuses spreadsheet formulas.
func csvCell(s string) string {
	s = Escape(s)
	if s != "" && strings.ContainsRune("=+-@", rune(s[0])) {
		return "'" + s
	}
	return s
}
