package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/sealpost/sealpost/exchange"
	"github.com/sealpost/sealpost/exchange/audit"
)

var statusCommand = &command{
	name:     "status",
	summary:  "queues, last success, bundles awaiting receipts and responses",
	synopsis: "status [--partner P] [--format text|json]",
	examples: "  sealpost status\n  sealpost status --partner uk-hmrc --format json | jq .\n" +
		"  sealpost status --format json | jq '.[] | select(.awaiting_receipt[].overdue)'\n" +
		"Shows per partner: queues, last successful push and pull, the last error, bundles\n" +
		"awaiting a receipt or a response (and which are overdue), and the keys in use\n" +
		"with their expiry (ROTATE SOON within 30 days). --json, a deprecated spelling of\n" +
		"--format json, still works.",
	run: cmdStatus,
}

func cmdStatus(_ context.Context, e *env, args []string) error {
	fs := e.newFlags()
	partner := fs.String("partner", "", "only this partner")
	format := fs.String("format", "text", "text, or json")
	fs.BoolFunc("json", "deprecated spelling of --format json", func(string) error { *format = audit.FormatJSON; return nil })
	fs.hidden["json"] = true
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if *format != "text" && *format != audit.FormatJSON {
		return usagef("--format %q is not text or json", *format)
	}
	eng, err := e.engine(partnerFlag{"partner", *partner})
	if err != nil {
		return err
	}
	defer eng.Close()
	sts, err := eng.Status(*partner)
	if err != nil {
		return err
	}
	if *format == audit.FormatJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(sts)
	}
	for _, st := range sts {
		printStatus(e.stdout, st)
	}
	return nil
}

// printStatus writes one partner's status for people; every text that a
// partner or a log record may carry is escaped (see audit.Escape).
func printStatus(w io.Writer, st exchange.PartnerStatus) {
	fmt.Fprintf(w, "%s\n", st.Partner)
	fmt.Fprintf(w, "  outbox %d   in flight %d   receipts owed %d   inbox %d   quarantine %d   failed %d\n",
		st.Outbox, st.InFlight, st.ReceiptsOwed, st.Inbox, st.Quarantine, st.Failed)
	fmt.Fprintf(w, "  last push  %s\n  last pull  %s\n", when(st.LastPush), when(st.LastPull))
	if st.LastError != "" {
		fmt.Fprintf(w, "  last error %s\n", audit.Escape(st.LastError))
	}
	if st.Receipts == "none" {
		fmt.Fprintf(w, "  awaiting receipt: no receipts from this partner (receipts: none)\n")
	} else {
		printPending(w, "awaiting receipt", st.AwaitingReceipt)
	}
	printPending(w, "awaiting response", st.AwaitingResponse)
	printKeys(w, st.Keys)
}

// printKeys lists the keys in use with a partner and when they expire.
func printKeys(w io.Writer, keys []exchange.KeyState) {
	fmt.Fprintf(w, "  keys:\n")
	for _, k := range keys {
		exp := "never expires"
		if k.Expires != nil {
			left := time.Until(*k.Expires)
			exp = fmt.Sprintf("expires %s (in %d days)", k.Expires.UTC().Format(time.DateOnly), int(left.Hours()/24))
			if left <= 0 {
				exp = "EXPIRED on " + k.Expires.UTC().Format(time.DateOnly)
			}
		}
		mark := ""
		switch {
		case k.Revoked:
			mark = "  REVOKED: replace it"
		case k.ExpiresSoon:
			mark = "  ROTATE SOON"
		}
		fmt.Fprintf(w, "    %-10s %s %s%s\n", k.Owner, k.Fingerprint, exp, mark)
	}
}

func printPending(w io.Writer, title string, ps []exchange.Pending) {
	overdue := 0
	for _, p := range ps {
		if p.Overdue {
			overdue++
		}
	}
	fmt.Fprintf(w, "  %s: %d (%d overdue)\n", title, len(ps), overdue)
	for _, p := range ps {
		mark := ""
		if p.Overdue {
			mark = "  OVERDUE since " + p.Due.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "    %s %-8s %-20s sent %s%s\n", audit.Escape(p.Bundle), audit.Escape(p.Kind), audit.Escape(p.Reference),
			p.Sent.UTC().Format(time.RFC3339), mark)
	}
}

func when(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format(time.RFC3339) + " (" + time.Since(*t).Round(time.Second).String() + " ago)"
}
