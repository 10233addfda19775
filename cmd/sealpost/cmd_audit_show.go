package main

import (
	"fmt"
	"io"
	"time"

	"github.com/sealpost/sealpost/exchange/audit"
)

// printStory writes the story of one bundle for people: what it is, what
// became of it (as of now), then every record with all it says.
func printStory(w io.Writer, s audit.Story, src auditSource, now time.Time) {
	esc := audit.Escape
	head := storyHead(s)
	fmt.Fprintf(w, "bundle %s\n", esc(s.Bundle))
	fmt.Fprintf(w, "  %s %s %s", orDash(head.Kind), storyDirection(head), orDash(head.Partner))
	if head.Reference != "" {
		fmt.Fprintf(w, ", reference %s", esc(head.Reference))
	}
	if head.InReplyTo != "" {
		fmt.Fprintf(w, ", answering %s", esc(head.InReplyTo))
	}
	fmt.Fprintln(w)
	for _, line := range outcomes(s, src, now) {
		fmt.Fprintf(w, "  %s\n", line)
	}
	fmt.Fprintln(w)
	for _, r := range s.Records {
		printRecord(w, r)
	}
}

// storyHead is the first record about the bundle itself (not an answer).
func storyHead(s audit.Story) audit.Record {
	for _, r := range s.Records {
		if r.Bundle == s.Bundle && r.Event != audit.EvDownloaded {
			return r
		}
	}
	return s.Records[0]
}

// storyDirection says which way a bundle went, from its first record.
func storyDirection(r audit.Record) string {
	switch r.Event {
	case audit.EvQueued, audit.EvClaimed, audit.EvUploaded, audit.EvFailed:
		return "sent to"
	}
	return "received from"
}

// outcomes sums up what became of the bundle: receipts, responses,
// refusals, and what is still awaited (with due times from the
// configuration, or the defaults) and overdue as of now.
func outcomes(s audit.Story, src auditSource, now time.Time) []string {
	var out []string
	tr := audit.NewTracker()
	for _, r := range s.Records {
		tr.Add(r)
		if line := outcome(s.Bundle, r); line != "" {
			out = append(out, line)
		}
	}
	for _, a := range tr.Awaited(src.dues, now) {
		if a.Bundle != s.Bundle {
			continue
		}
		state := "due"
		if a.Overdue {
			state = "OVERDUE since"
		}
		out = append(out, fmt.Sprintf("awaiting a %s: %s %s", a.Awaiting, state, a.Due.UTC().Format(time.RFC3339)))
	}
	return out
}

// outcome is the one-line summary of a record that answers or settles the bundle.
func outcome(id string, r audit.Record) string {
	esc := audit.Escape
	switch {
	case r.Event == audit.EvReceipt && r.InReplyTo == id && r.Outcome == audit.OutcomeOK:
		return fmt.Sprintf("receipt %s from %s at %s: %s", esc(r.Bundle), esc(r.Partner), r.Time, orDash(r.Detail))
	case r.Event == audit.EvReceipt && r.InReplyTo == id:
		return fmt.Sprintf("receipt %s from %s at %s: %s: %s", esc(r.Bundle), esc(r.Partner), r.Time, r.Outcome, esc(r.Error))
	case r.Event == audit.EvFiled && r.InReplyTo == id:
		return fmt.Sprintf("response %s filed at %s", esc(r.Bundle), r.Time)
	case r.Event == audit.EvUploaded && r.InReplyTo == id && r.Outcome == audit.OutcomeOK:
		return fmt.Sprintf("%s %s sent at %s", orDash(r.Kind), esc(r.Bundle), r.Time)
	case r.Event == audit.EvRejected && (r.Bundle == id || r.Bundle == ""):
		return fmt.Sprintf("REFUSED at %s (%s): %s", r.Time, esc(r.Code), esc(r.Error))
	case r.Event == audit.EvFailed:
		return fmt.Sprintf("FAILED at %s: %s", r.Time, esc(r.Error))
	}
	return ""
}

// printRecord writes one record: its line, then every member it has.
func printRecord(w io.Writer, r audit.Record) {
	esc := audit.Escape
	fmt.Fprintf(w, "%s  %-18s %-8s seq %d\n", esc(r.Time), esc(r.Event), esc(r.Outcome), r.Seq)
	field := func(name, format string, args ...any) {
		fmt.Fprintf(w, "    %-15s %s\n", name, fmt.Sprintf(format, args...))
	}
	if r.File != "" {
		field("file", "%s", esc(r.File))
	}
	if r.Bytes != 0 {
		field("bytes", "%d", r.Bytes)
	}
	if r.SHA256 != "" {
		field("sha256", "%s", esc(r.SHA256))
	}
	if r.Bundle != "" || r.Kind != "" {
		field("bundle", "%s %s", orDash(r.Kind), esc(r.Bundle))
	}
	for _, f := range []struct{ name, v string }{{"reference", r.Reference}, {"in reply to", r.InReplyTo},
		{"code", r.Code}, {"error", r.Error}, {"detail", r.Detail}} {
		if f.v != "" {
			field(f.name, "%s", esc(f.v))
		}
	}
	if r.Host != "" {
		field("remote", "%s@%s, host key %s", esc(r.User), esc(r.Host), esc(r.HostKey))
	}
	if r.Self != "" {
		field("by", "%s", esc(r.Self))
	}
	if h := r.PeerLogHead; h != nil {
		field("partner's log", "head seq %d sha256 %s (the partner's log held this when it sealed the bundle)", h.Seq, esc(h.SHA256))
	}
}

// orDash is Escape(s), or "-" for "".
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return audit.Escape(s)
}
