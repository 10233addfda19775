// Package report builds an auditor's report of an exchange log: per partner
// totals, traffic per day each way, open and overdue requests, refused
// bundles with their reasons and the result of the chain check. It reads
// the log once, streaming; its memory is the number of days, partners,
// bundles still awaited and (at most MaxRefusals) refusals.
package report

import (
	"errors"
	"sort"
	"time"

	"github.com/sealpost/sealpost/exchange/audit"
)

// MaxRefusals is how many refused bundles a report lists; it counts the rest.
const MaxRefusals = 500

// maxFillDays is the longest span of days a chart shows day by day with the
// quiet days filled in.
const maxFillDays = 1100

// Options choose what a report covers.
type Options struct {
	Self    string    // our party id, for the title
	Partner string    // only this partner; "" = all
	Since   time.Time // traffic at or after; zero = from the start
	Until   time.Time // traffic before; zero = to the end
	Now     time.Time // when overdue is judged; zero = time.Now()
	// Dues gives each partner's receipt_due, response_due and receipts;
	// nil means the configuration's defaults (24h, 720h, expected).
	Dues func(partner string) audit.Dues
}

// Report is what Build found.
type Report struct {
	Options
	Chain       Chain
	Partners    []*Totals       // by partner id
	Days        []*Day          // by date, quiet days included
	Awaited     []audit.Awaited // bundles still waiting for a receipt or response, oldest first
	Refusals    []Refusal       // oldest first, at most MaxRefusals
	MoreRefused int             // refusals beyond MaxRefusals
	Records     int64           // records in the window
}

// Chain is the result of checking the hash chain.
type Chain struct {
	OK         bool
	Records    int64
	Files      int
	HeadSeq    int64
	HeadSHA256 string
	Error      string // the first bad line and why, when not OK
}

// Totals are one partner's traffic in the window.
type Totals struct {
	Partner          string
	SentBundles      int64 // bundles uploaded (receipts included)
	SentBytes        int64
	Requests         int64 // of which requests
	Responses        int64 // of which responses
	ReceivedFiles    int64 // files downloaded from the partner's drop
	ReceivedBytes    int64
	Filed            int64 // bundles filed in the inbox
	ReceiptsIn       int64 // the partner's receipts for our bundles
	RefusedByUs      int64 // incoming files refused and quarantined
	RefusedByPartner int64 // our bundles the partner's receipts refuse
	Failed           int64 // outbox items that can never be sent
	Errors           int64 // records with outcome error
}

// Day is one day's traffic (UTC), all partners in the window together.
type Day struct {
	Date       string // 2006-01-02
	OutBundles int64
	OutBytes   int64
	InBundles  int64
	InBytes    int64
}

// Refusal is a bundle refused, by us or by the partner.
type Refusal struct {
	Time    string
	Partner string
	By      string // "us" or "partner"
	File    string
	Bundle  string
	Code    string
	Reason  string
}

// defaultDues are config's defaults for a partner that sets none.
var defaultDues = audit.Dues{Receipt: 24 * time.Hour, Response: 720 * time.Hour}

// Build reads the log in dir and makes the report. A broken chain is not
// an error: the report says where it breaks and covers the records before.
func Build(dir string, opt Options) (*Report, error) {
	if opt.Now.IsZero() {
		opt.Now = time.Now()
	}
	if opt.Dues == nil {
		opt.Dues = func(string) audit.Dues { return defaultDues }
	}
	b := &builder{r: &Report{Options: opt}, partners: map[string]*Totals{}, days: map[string]*Day{}, tracker: audit.NewTracker()}
	window := audit.Filter{Partner: opt.Partner, Since: opt.Since, Until: opt.Until}
	sum, err := audit.ScanSummary(dir, func(r audit.Record) error {
		b.tracker.Add(r)
		if window.Match(r) {
			b.add(r)
		}
		return nil
	})
	var ve *audit.VerifyError
	if err != nil && !errors.As(err, &ve) {
		return nil, err
	}
	b.r.Chain = Chain{OK: err == nil, Records: sum.Records, Files: len(sum.Files), HeadSeq: sum.HeadSeq, HeadSHA256: sum.HeadSHA256}
	if err != nil {
		b.r.Chain.Error = err.Error()
	}
	b.finish()
	return b.r, nil
}

// builder folds records into a Report.
type builder struct {
	r        *Report
	partners map[string]*Totals
	days     map[string]*Day
	tracker  *audit.Tracker
}

func (b *builder) add(r audit.Record) {
	b.r.Records++
	if r.Partner == "" {
		return
	}
	t := b.totals(r.Partner)
	if r.Outcome == audit.OutcomeError {
		t.Errors++
	}
	switch r.Event {
	case audit.EvUploaded:
		b.uploaded(t, r)
	case audit.EvDownloaded:
		if r.Outcome == audit.OutcomeOK {
			t.ReceivedFiles++
			t.ReceivedBytes += r.Bytes
			d := b.day(r.Time)
			d.InBundles++
			d.InBytes += r.Bytes
		}
	case audit.EvFiled:
		t.Filed++
	case audit.EvReceipt:
		b.receipt(t, r)
	case audit.EvRejected:
		t.RefusedByUs++
		b.refused(r, "us", r.Error)
	case audit.EvFailed:
		t.Failed++
	}
}

func (b *builder) uploaded(t *Totals, r audit.Record) {
	if r.Outcome != audit.OutcomeOK {
		return
	}
	t.SentBundles++
	t.SentBytes += r.Bytes
	switch r.Kind {
	case "request":
		t.Requests++
	case "response":
		t.Responses++
	}
	d := b.day(r.Time)
	d.OutBundles++
	d.OutBytes += r.Bytes
}

func (b *builder) receipt(t *Totals, r audit.Record) {
	t.ReceiptsIn++
	if r.Outcome == audit.OutcomeRejected {
		t.RefusedByPartner++
		rr := r
		rr.Bundle = r.InReplyTo
		b.refused(rr, "partner", r.Error)
	}
}

func (b *builder) refused(r audit.Record, by, reason string) {
	if len(b.r.Refusals) >= MaxRefusals {
		b.r.MoreRefused++
		return
	}
	b.r.Refusals = append(b.r.Refusals, Refusal{Time: r.Time, Partner: r.Partner, By: by, File: r.File,
		Bundle: r.Bundle, Code: r.Code, Reason: reason})
}

func (b *builder) totals(p string) *Totals {
	t := b.partners[p]
	if t == nil {
		t = &Totals{Partner: p}
		b.partners[p] = t
	}
	return t
}

func (b *builder) day(ts string) *Day {
	date := ts
	if len(date) >= 10 {
		date = date[:10]
	}
	d := b.days[date]
	if d == nil {
		d = &Day{Date: date}
		b.days[date] = d
	}
	return d
}

// finish sorts what was gathered, fills quiet days and lists what is
// awaited.
func (b *builder) finish() {
	for _, t := range b.partners {
		b.r.Partners = append(b.r.Partners, t)
	}
	sort.Slice(b.r.Partners, func(i, j int) bool { return b.r.Partners[i].Partner < b.r.Partners[j].Partner })
	b.fillDays()
	for _, d := range b.days {
		b.r.Days = append(b.r.Days, d)
	}
	sort.Slice(b.r.Days, func(i, j int) bool { return b.r.Days[i].Date < b.r.Days[j].Date })
	for _, a := range b.tracker.Awaited(b.r.Dues, b.r.Now) {
		if b.r.Partner == "" || a.Partner == b.r.Partner {
			b.r.Awaited = append(b.r.Awaited, a)
		}
	}
}

// fillDays adds the quiet days between the first and the last day with
// traffic (or the window's ends), so the chart's time axis is even.
func (b *builder) fillDays() {
	first, last := "", ""
	for d := range b.days {
		if first == "" || d < first {
			first = d
		}
		if d > last {
			last = d
		}
	}
	if !b.r.Since.IsZero() {
		first = b.r.Since.UTC().Format(time.DateOnly)
	}
	if !b.r.Until.IsZero() && b.r.Until.Before(b.r.Now) {
		last = b.r.Until.UTC().Add(-time.Nanosecond).Format(time.DateOnly)
	}
	from, err1 := time.Parse(time.DateOnly, first)
	to, err2 := time.Parse(time.DateOnly, last)
	if err1 != nil || err2 != nil || to.Sub(from) > maxFillDays*24*time.Hour {
		return
	}
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		b.day(d.Format(time.DateOnly))
	}
}

// Overdue counts the awaited bundles past their due time.
func (r *Report) Overdue() int {
	n := 0
	for _, a := range r.Awaited {
		if a.Overdue {
			n++
		}
	}
	return n
}
