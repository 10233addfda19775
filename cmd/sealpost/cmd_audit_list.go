package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/sealpost/sealpost/exchange/audit"
)

// awaitedEvents are the --event values that list what is awaited instead
// of log records.
var awaitedEvents = []string{"overdue", "awaited"}

var auditListCommand = &command{
	name:     "audit list",
	summary:  "records; filters: --partner --bundle --since --until --event (--as-of with overdue)",
	synopsis: "audit list [--partner P] [--bundle ID] [--since T] [--until T] [--event E [--as-of T]] [--format table|json|csv] [--dir FOLDER]",
	examples: "  sealpost audit list --partner uk-hmrc --since 2026-11-01 --until 2026-11-30\n" +
		"  sealpost audit list --bundle 0193b2c4-6d2e-7c1a-9f00-3b1c2d4e5f60 --format json | jq .\n" +
		"  sealpost audit list --event bundle.rejected,receipt.received --format csv > refused.csv\n" +
		"  sealpost audit list --event bundle.       # every bundle.* event\n" +
		"  sealpost audit list --event overdue       # bundles past their receipt_due or response_due\n" +
		"  sealpost audit list --event awaited --as-of 2026-11-30T17:00:00Z   # what was open at that time",
	run: cmdAuditList,
}

func cmdAuditList(_ context.Context, e *env, args []string) error {
	fs := e.newFlags()
	partner := fs.String("partner", "", "only records about this partner")
	bundleID := fs.String("bundle", "", "only records about this bundle (or answering it)")
	event := fs.String("event", "", "only these events, comma-separated (\"bundle.\" for all bundle.* events);\n\"overdue\" or \"awaited\" lists bundles still waiting for a receipt or response")
	format := fs.String("format", audit.FormatTable, "table, json (one object a line) or csv")
	dir := fs.String("dir", "", "the audit folder to read (default: state_dir/audit of the configuration)")
	when := fs.when()
	asOfFlag := fs.asOf()
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	since, until, err := when.parse()
	if err != nil {
		return err
	}
	asOf, err := asOfFlag.parse()
	if err != nil {
		return err
	}
	f := audit.Filter{Partner: *partner, Bundle: *bundleID, Since: since, Until: until}
	if *event != "" {
		f.Events = strings.Split(*event, ",")
	}
	w, err := audit.NewRecordWriter(e.stdout, *format)
	if err != nil {
		return usagef("--format: %v", err)
	}
	src, err := e.auditSource(*dir)
	if err != nil {
		return err
	}
	if slices.ContainsFunc(f.Events, func(ev string) bool { return slices.Contains(awaitedEvents, ev) }) {
		return listAwaited(e.stdout, src, f, asOf, *format)
	}
	if !asOf.IsZero() {
		return usagef("--as-of goes with --event overdue or awaited (--until limits the records listed)")
	}
	err = audit.List(src.dir, f, w.Write)
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	return logError(src, err)
}

// logError turns a broken chain met while reading into exit 1.
func logError(src auditSource, err error) error {
	var ve *audit.VerifyError
	if errors.As(err, &ve) {
		return &failedError{fmt.Sprintf("exchange log in %s does not verify (records after the bad line are not shown): %v", src.dir, err)}
	}
	return err
}

// listAwaited prints the bundles still waiting for a receipt or response
// (only the overdue ones for --event overdue), as of asOf: only the
// records before it count (all of them, as of now, when it is zero).
func listAwaited(w io.Writer, src auditSource, f audit.Filter, asOf time.Time, format string) error {
	if len(f.Events) != 1 {
		return usagef("--event overdue or awaited cannot be mixed with other events")
	}
	tr := audit.NewTracker()
	before := audit.Filter{Until: asOf}
	err := audit.Scan(src.dir, func(r audit.Record) error {
		if before.Match(r) {
			tr.Add(r)
		}
		return nil
	})
	if err != nil {
		return logError(src, err)
	}
	var out []audit.Awaited
	for _, a := range tr.Awaited(src.dues, nowOr(asOf)) {
		if awaitedMatch(f, a) {
			out = append(out, a)
		}
	}
	return writeAwaited(w, out, format)
}

// awaitedMatch applies a filter to an awaited bundle (by the time it was sent).
func awaitedMatch(f audit.Filter, a audit.Awaited) bool {
	switch {
	case f.Events[0] == "overdue" && !a.Overdue:
	case f.Partner != "" && a.Partner != f.Partner:
	case f.Bundle != "" && a.Bundle != f.Bundle:
	case !f.Since.IsZero() && a.Sent.Before(f.Since):
	case !f.Until.IsZero() && !a.Sent.Before(f.Until):
	default:
		return true
	}
	return false
}

func writeAwaited(w io.Writer, as []audit.Awaited, format string) error {
	switch format {
	case audit.FormatJSON:
		enc := json.NewEncoder(w)
		for _, a := range as {
			if err := enc.Encode(a); err != nil {
				return err
			}
		}
		return nil
	case audit.FormatCSV:
		fmt.Fprintln(w, "partner,bundle,kind,reference,awaiting,sent,due,overdue")
		for _, a := range as {
			fmt.Fprintf(w, "%s,%s,%s,%s,%s,%s,%s,%v\n", csvText(a.Partner), csvText(a.Bundle), csvText(a.Kind), csvText(a.Reference),
				a.Awaiting, a.Sent.UTC().Format(time.RFC3339), a.Due.UTC().Format(time.RFC3339), a.Overdue)
		}
		return nil
	}
	row := "%-10s %-36s %-8s %-8s %-20s %-20s %-8s %s\n"
	fmt.Fprintf(w, row, "PARTNER", "BUNDLE", "KIND", "AWAITING", "SENT", "DUE", "STATE", "REFERENCE")
	for _, a := range as {
		state := "open"
		if a.Overdue {
			state = "OVERDUE"
		}
		fmt.Fprintf(w, row, audit.Escape(a.Partner), audit.Escape(a.Bundle), audit.Escape(a.Kind), a.Awaiting,
			a.Sent.UTC().Format(time.RFC3339), a.Due.UTC().Format(time.RFC3339), state, audit.Escape(a.Reference))
	}
	return nil
}

// csvText quotes a CSV cell when it must be, after escaping it.
func csvText(s string) string {
	s = audit.Escape(s)
	if s != "" && strings.ContainsRune("=+-@", rune(s[0])) {
		s = "'" + s
	}
	if strings.ContainsAny(s, ",\"") {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

var auditShowCommand = &command{
	name:     "audit show",
	summary:  "the whole story of one bundle",
	synopsis: "audit show [--format text|json] [--as-of T] [--dir FOLDER] ID",
	examples: "  sealpost audit show 0193b2c4-6d2e-7c1a-9f00-3b1c2d4e5f60\n" +
		"  sealpost audit show --format json 0193b2c4-6d2e-7c1a-9f00-3b1c2d4e5f60\n" +
		"  sealpost audit show --as-of 2026-11-30 0193b2c4-6d2e-7c1a-9f00-3b1c2d4e5f60   # the story as it stood then",
	run: cmdAuditShow,
}

func cmdAuditShow(_ context.Context, e *env, args []string) error {
	fs := e.newFlags()
	format := fs.String("format", "text", "text, or json (the records, one object a line)")
	dir := fs.String("dir", "", "the audit folder to read (default: state_dir/audit of the configuration)")
	asOfFlag := fs.asOf()
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	asOf, err := asOfFlag.parse()
	if err != nil {
		return err
	}
	if len(rest) != 1 || rest[0] == "" {
		return usagef("audit show needs exactly one bundle id")
	}
	if *format != "text" && *format != audit.FormatJSON {
		return usagef("--format %q is not text or json", *format)
	}
	src, err := e.auditSource(*dir)
	if err != nil {
		return err
	}
	s, err := audit.StoryOf(src.dir, rest[0])
	if err != nil {
		return logError(src, err)
	}
	s.Records = slices.DeleteFunc(s.Records, func(r audit.Record) bool { return !audit.Filter{Until: asOf}.Match(r) })
	if len(s.Records) == 0 {
		return &failedError{fmt.Sprintf("the exchange log in %s has no record of bundle %s%s", src.dir, audit.Escape(rest[0]), beforeText(asOf))}
	}
	if *format == audit.FormatJSON {
		w, _ := audit.NewRecordWriter(e.stdout, audit.FormatJSON)
		for _, r := range s.Records {
			w.Write(r)
		}
		return w.Flush()
	}
	printStory(e.stdout, s, src, nowOr(asOf))
	return nil
}

// beforeText is " before T" for an --as-of time T, "" for none.
func beforeText(asOf time.Time) string {
	if asOf.IsZero() {
		return ""
	}
	return " before " + asOf.UTC().Format(time.RFC3339)
}
