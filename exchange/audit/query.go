package audit

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Filter selects records. Zero fields select everything.
type Filter struct {
	Partner string
	Bundle  string    // the record's bundle, or the bundle it answers (in_reply_to)
	Since   time.Time // records at or after
	Until   time.Time // records before
	Events  []string  // event names; "bundle." (a trailing dot) matches every bundle.* event
}

// Match reports whether r is selected.
func (f Filter) Match(r Record) bool {
	if f.Partner != "" && r.Partner != f.Partner {
		return false
	}
	if f.Bundle != "" && r.Bundle != f.Bundle && r.InReplyTo != f.Bundle {
		return false
	}
	if len(f.Events) > 0 && !matchEvent(f.Events, r.Event) {
		return false
	}
	if !f.Since.IsZero() || !f.Until.IsZero() {
		t, err := time.Parse(time.RFC3339Nano, r.Time)
		if err != nil || !f.Since.IsZero() && t.Before(f.Since) || !f.Until.IsZero() && !t.Before(f.Until) {
			return false
		}
	}
	return true
}

// matchEvent reports whether event is one of events or under one of the
// prefixes among them.
func matchEvent(events []string, event string) bool {
	for _, e := range events {
		if e == event || strings.HasSuffix(e, ".") && strings.HasPrefix(event, e) {
			return true
		}
	}
	return false
}

// List calls fn for each record of the log in dir that f selects, in log
// order, streaming (see Scan: the chain is checked on the way).
func List(dir string, f Filter, fn func(Record) error) error {
	return Scan(dir, func(r Record) error {
		if !f.Match(r) {
			return nil
		}
		return fn(r)
	})
}

// ParseWhen reads a --since or --until value: an RFC 3339 time, a date
// (2026-11-27, midnight UTC; with until set, the end of that day), a UTC
// date and time without zone (2026-11-27T22:04), or an age before now
// (90m, 36h, 7d).
func ParseWhen(s string, now time.Time, until bool) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		if until {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	if d, ok := parseAge(s); ok {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time: use RFC 3339 (2026-11-27T22:04:35Z), a date (2026-11-27) or an age (36h, 7d)", s)
}

// parseAge reads a Go duration or a number of days ("7d").
func parseAge(s string) (time.Duration, bool) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		return time.Duration(days) * 24 * time.Hour, err == nil && days >= 0
	}
	d, err := time.ParseDuration(s)
	return d, err == nil && d >= 0
}
