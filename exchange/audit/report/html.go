package report

import (
	"bufio"
	_ "embed"
	"html/template"
	"io"
	"time"

	"github.com/sealpost/sealpost/exchange/audit"
)

//go:embed report.html.tmpl
var pageText string

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"esc":   audit.Escape,
	"size":  size,
	"count": count,
	"add":   func(a, b int64) int64 { return a + b },
	"when":  when,
	"date":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 MST") },
}).Parse(pageText))

// view is what the template renders.
type view struct {
	*Report
	Shown     []audit.Awaited // the awaited rows shown: overdue first, at most MaxRows
	MoreShown int             // awaited rows left out
	Generated string
	Window    string
	Charts    []chart
	Overdue   int
	Total     Totals
}

// WriteHTML writes the report as one self-contained HTML page (inline CSS
// and SVG; no script, no external asset) that is also well-formed XML.
// Every name from the log is escaped (see audit.Escape).
func (r *Report) WriteHTML(w io.Writer) error {
	v := view{Report: r, Generated: r.Now.UTC().Format(time.RFC3339), Window: r.window(), Overdue: r.Overdue(), Total: r.total()}
	v.Shown, v.MoreShown = r.awaitedRows()
	v.Charts = []chart{
		newChart("Bundles per day", r.Days, func(d *Day) int64 { return d.OutBundles }, func(d *Day) int64 { return d.InBundles }, count),
		newChart("Bytes per day", r.Days, func(d *Day) int64 { return d.OutBytes }, func(d *Day) int64 { return d.InBytes }, size),
	}
	bw := bufio.NewWriter(w)
	if err := page.Execute(bw, v); err != nil {
		return err
	}
	return bw.Flush()
}

// MaxRows is how many awaited bundles the page lists.
const MaxRows = 500

// awaitedRows are the awaited bundles the page lists: the overdue ones
// first, each group oldest first, at most MaxRows; and how many are left out.
func (r *Report) awaitedRows() ([]audit.Awaited, int) {
	var rows []audit.Awaited
	for _, overdue := range []bool{true, false} {
		for _, a := range r.Awaited {
			if a.Overdue == overdue && len(rows) < MaxRows {
				rows = append(rows, a)
			}
		}
	}
	return rows, len(r.Awaited) - len(rows)
}

// window describes the time span covered.
func (r *Report) window() string {
	from, to := "the start of the log", "now"
	if !r.Since.IsZero() {
		from = r.Since.UTC().Format(time.RFC3339)
	}
	if !r.Until.IsZero() {
		to = r.Until.UTC().Format(time.RFC3339)
	}
	return from + " to " + to
}

// total adds up every partner's totals.
func (r *Report) total() Totals {
	var t Totals
	for _, p := range r.Partners {
		t.SentBundles += p.SentBundles
		t.SentBytes += p.SentBytes
		t.Requests += p.Requests
		t.Responses += p.Responses
		t.ReceivedFiles += p.ReceivedFiles
		t.ReceivedBytes += p.ReceivedBytes
		t.Filed += p.Filed
		t.ReceiptsIn += p.ReceiptsIn
		t.RefusedByUs += p.RefusedByUs
		t.RefusedByPartner += p.RefusedByPartner
		t.Failed += p.Failed
		t.Errors += p.Errors
	}
	return t
}

// when shortens a record time for a table cell.
func when(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return audit.Escape(s)
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}
