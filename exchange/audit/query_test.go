package audit

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

const (
	bundleA = "0193b2c4-6d2e-7c1a-9f00-00000000000a" // our request to uk-hmrc
	bundleB = "0193b2c4-6d2e-7c1a-9f00-00000000000b" // uk-hmrc's receipt for it
	bundleC = "0193b2c4-6d2e-7c1a-9f00-00000000000c" // uk-hmrc's response to it
	bundleD = "0193b2c4-6d2e-7c1a-9f00-00000000000d" // our request to fr-dgddi, never answered
	fileC   = "uk-hmrc_us-cbp_response_" + bundleC + ".pgp"
)

// story is a log of two partners' traffic.
var story = []Record{
	{Time: "2026-11-01T09:00:00.000Z", Event: EvQueued, Partner: "uk-hmrc", File: "send-1", Reference: "CASE-1"},
	{Time: "2026-11-01T09:05:00.000Z", Event: EvClaimed, Partner: "uk-hmrc", Bundle: bundleA, Kind: "request", File: "send-1", Reference: "CASE-1"},
	{Time: "2026-11-01T09:05:01.000Z", Event: EvUploaded, Partner: "uk-hmrc", Bundle: bundleA, Kind: "request", Bytes: 1000,
		File: "us-cbp_uk-hmrc_request_" + bundleA + ".pgp", SHA256: ZeroHash, Reference: "CASE-1", Host: "sftp.uk.example:22", HostKey: "SHA256:abc", User: "us-cbp"},
	{Time: "2026-11-01T09:05:02.000Z", Event: EvUploaded, Partner: "fr-dgddi", Bundle: bundleD, Kind: "request", Bytes: 500, Reference: "CASE-2"},
	{Time: "2026-11-01T10:00:00.000Z", Event: EvReceipt, Partner: "uk-hmrc", Bundle: bundleB, Kind: "receipt", InReplyTo: bundleA, Detail: "filed"},
	{Time: "2026-11-03T08:00:00.000Z", Event: EvDownloaded, Partner: "uk-hmrc", File: fileC, Bytes: 2000},
	{Time: "2026-11-03T08:00:01.000Z", Event: EvFiled, Partner: "uk-hmrc", Bundle: bundleC, Kind: "response", File: fileC, Bytes: 2000,
		InReplyTo: bundleA, PeerLogHead: &LogHead{Seq: 77, SHA256: ZeroHash}},
	{Time: "2026-11-03T08:00:02.000Z", Event: EvRejected, Outcome: OutcomeRejected, Partner: "uk-hmrc", File: "evil\nname\x1b[31m\u202e.pgp",
		Code: "decrypt", Error: "=cmd|' /C calc'!A0"},
	{Time: "2026-11-03T08:00:03.000Z", Event: EvRunFinished, Partner: "uk-hmrc"},
}

// storyLog writes story to a new log and returns its folder.
func storyLog(t testing.TB) string {
	t.Helper()
	l, dir := openLog(t)
	for _, r := range story {
		if r.Outcome == "" {
			r.Outcome = OutcomeOK
		}
		if _, err := l.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func listSeqs(t *testing.T, dir string, f Filter) []int64 {
	t.Helper()
	var seqs []int64
	if err := List(dir, f, func(r Record) error { seqs = append(seqs, r.Seq); return nil }); err != nil {
		t.Fatal(err)
	}
	return seqs
}

func TestListFilters(t *testing.T) {
	dir := storyLog(t)
	day := func(s string) time.Time { t, _ := time.Parse(time.DateOnly, s); return t }
	tests := []struct {
		name string
		f    Filter
		want string
	}{
		{"all", Filter{}, "[1 2 3 4 5 6 7 8 9]"},
		{"partner", Filter{Partner: "fr-dgddi"}, "[4]"},
		{"bundle and replies", Filter{Bundle: bundleA}, "[2 3 5 7]"},
		{"since", Filter{Since: day("2026-11-03")}, "[6 7 8 9]"},
		{"until is exclusive", Filter{Until: time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)}, "[1 2 3 4]"},
		{"event", Filter{Events: []string{EvUploaded, EvRunFinished}}, "[3 4 9]"},
		{"event prefix", Filter{Events: []string{"bundle."}, Partner: "uk-hmrc"}, "[1 2 3 6 7 8]"},
	}
	for _, tt := range tests {
		if got := listSeqs(t, dir, tt.f); fmtSeqs(got) != tt.want {
			t.Errorf("%s: %v, want %s", tt.name, got, tt.want)
		}
	}
}

func fmtSeqs(s []int64) string {
	b, _ := json.Marshal(s)
	return strings.ReplaceAll(string(b), ",", " ")
}

func TestParseWhen(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		in    string
		until bool
		want  time.Time
	}{
		{"2026-11-27T22:04:35Z", false, time.Date(2026, 11, 27, 22, 4, 35, 0, time.UTC)},
		{"2026-11-27T23:04:35+01:00", false, time.Date(2026, 11, 27, 22, 4, 35, 0, time.UTC)},
		{"2026-11-01", false, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)},
		{"2026-11-30", true, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
		{"2026-11-27T08:30", false, time.Date(2026, 11, 27, 8, 30, 0, 0, time.UTC)},
		{"36h", false, now.Add(-36 * time.Hour)},
		{"7d", false, now.AddDate(0, 0, -7)},
	} {
		got, err := ParseWhen(tt.in, now, tt.until)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("ParseWhen(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "yesterday", "-5d", "2026-13-01", "5x"} {
		if _, err := ParseWhen(bad, now, false); err == nil || !strings.Contains(err.Error(), "is not a time") {
			t.Errorf("ParseWhen(%q) = %v", bad, err)
		}
	}
}

// writeAll lists every record of dir in format.
func writeAll(t *testing.T, dir, format string) string {
	t.Helper()
	var out bytes.Buffer
	w, err := NewRecordWriter(&out, format)
	if err != nil {
		t.Fatal(err)
	}
	if err := List(dir, Filter{}, w.Write); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// noRawControls fails on a control character other than the newlines
// between records.
func noRawControls(t *testing.T, what, s string) {
	t.Helper()
	for _, r := range s {
		if r != '\n' && escapedRune(r) {
			t.Errorf("%s holds a raw %U", what, r)
		}
	}
}

func TestTableEscapesNames(t *testing.T) {
	out := writeAll(t, storyLog(t), FormatTable)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 1+len(story) {
		t.Fatalf("%d lines for %d records:\n%s", len(lines), len(story), out)
	}
	noRawControls(t, "table", out)
	if !strings.Contains(lines[8], `evil\nname\x1b[31m\u202e.pgp`) || !strings.HasPrefix(lines[0], "SEQ ") {
		t.Errorf("table:\n%s", out)
	}
	if !strings.Contains(lines[3], "1000  us-cbp_uk-hmrc_request_") || !strings.Contains(lines[3], "ref=CASE-1") {
		t.Errorf("row 3: %s", lines[3])
	}
}

func TestCSVEscapesNamesAndFormulas(t *testing.T) {
	out := writeAll(t, storyLog(t), FormatCSV)
	if n := strings.Count(out, "\n"); n != 1+len(story) {
		t.Fatalf("%d lines for %d records:\n%s", n, len(story), out)
	}
	noRawControls(t, "csv", out)
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, c := range rows[0] {
		col[c] = i
	}
	bad := rows[8]
	if bad[col["file"]] != `evil\nname\x1b[31m\u202e.pgp` || bad[col["error"]] != `'=cmd|' /C calc'!A0` {
		t.Errorf("escaped row: %q", bad)
	}
	if rows[7][col["peer_log_seq"]] != "77" || rows[7][col["peer_log_sha256"]] != ZeroHash || rows[3][col["host_key"]] != "SHA256:abc" {
		t.Errorf("filed row: %q", rows[7])
	}
}

func TestJSONIsTheLog(t *testing.T) {
	dir := storyLog(t)
	out := writeAll(t, dir, FormatJSON)
	var want bytes.Buffer
	for _, l := range lines(t, dir) {
		want.Write(l)
		want.WriteByte('\n')
	}
	if out != want.String() {
		t.Errorf("json output differs from the log:\n%s\nwant\n%s", out, want.String())
	}
	if _, err := NewRecordWriter(&want, "xml"); err == nil || !strings.Contains(err.Error(), `"xml"`) {
		t.Errorf("format xml: %v", err)
	}
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"plain name.pdf":   "plain name.pdf",
		"é ü 日本":           "é ü 日本",
		"a\tb\r\n":         `a\tb\r\n`,
		"\x00\x7f\u0085":   `\x00\x7f\u0085`,
		"abc\u202egpj.exe": `abc\u202egpj.exe`,
		"back\\slash":      `back\\slash`,
		"bad\xffutf8":      `bad\xffutf8`,
		"line\u2028sep":    `line\u2028sep`,
		"zero\u200bwidth\u2060join\ufefftag\U000e0041shy\u00adbidi\u2066\u200e": `zero\u200bwidth\u2060join\ufefftag\U000e0041shy\u00adbidi\u2066\u200e`,
		"private\ue000non\ufdd0\uffffvs\ufe0f":                                  `private\ue000non\ufdd0\uffffvs\ufe0f`,
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestStoryOf(t *testing.T) {
	dir := storyLog(t)
	s, err := StoryOf(dir, bundleA)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range s.Records {
		got = append(got, r.Event)
	}
	want := []string{EvQueued, EvClaimed, EvUploaded, EvReceipt, EvFiled}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("story of %s: %v, want %v", bundleA, got, want)
	}
	s, err = StoryOf(dir, bundleC)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Records) != 2 || s.Records[0].Event != EvDownloaded || s.Records[1].PeerLogHead == nil {
		t.Errorf("story of %s: %+v", bundleC, s.Records)
	}
	if s, err := StoryOf(dir, "0193b2c4-6d2e-7c1a-9f00-ffffffffffff"); err != nil || len(s.Records) != 0 {
		t.Errorf("story of an unknown bundle: %+v, %v", s, err)
	}
}

func TestTrackerOverdue(t *testing.T) {
	tr := NewTracker()
	for i, r := range story {
		r.Seq, r.Outcome = int64(i+1), OutcomeOK
		tr.Add(r)
	}
	dues := func(p string) Dues {
		if p == "fr-dgddi" {
			return Dues{Receipt: time.Hour, Response: 48 * time.Hour}
		}
		return Dues{Receipt: 24 * time.Hour, Response: 720 * time.Hour}
	}
	now := time.Date(2026, 11, 2, 9, 5, 0, 0, time.UTC)
	aw := tr.Awaited(dues, now)
	if len(aw) != 2 {
		t.Fatalf("awaited %+v", aw)
	}
	for _, a := range aw {
		if a.Bundle != bundleD || a.Partner != "fr-dgddi" {
			t.Errorf("awaited %+v", a)
		}
		if wantOver := a.Awaiting == "receipt"; a.Overdue != wantOver {
			t.Errorf("%s awaiting %s: overdue %v (due %v)", a.Bundle, a.Awaiting, a.Overdue, a.Due)
		}
	}
}

func TestCheckpointText(t *testing.T) {
	c := NewCheckpoint("us-cbp", 42, strings.Repeat("ab", 32), time.Date(2026, 11, 27, 22, 4, 35, 0, time.UTC))
	got, err := ParseCheckpoint(c.Text())
	if err != nil || got != c {
		t.Fatalf("round trip %+v, %v", got, err)
	}
	for _, bad := range []string{`{}`, `not json`,
		`{"format":"sealpost-checkpoint/1","party":"us-cbp","seq":1,"sha256":"AB","time":"2026-11-27T22:04:35Z"}`,
		`{"format":"sealpost-checkpoint/1","party":"us-cbp","seq":-1,"sha256":"` + ZeroHash + `","time":"2026-11-27T22:04:35Z"}`,
		`{"format":"sealpost-checkpoint/1","party":"","seq":1,"sha256":"` + ZeroHash + `","time":"2026-11-27T22:04:35Z"}`,
		`{"format":"sealpost-checkpoint/1","party":"x","seq":1,"sha256":"` + ZeroHash + `","time":"yesterday"}`} {
		if _, err := ParseCheckpoint([]byte(bad)); err == nil {
			t.Errorf("ParseCheckpoint(%s) accepted it", bad)
		}
	}
}

// TestTrackerKeyedByPartner: a receipt or response from one partner that
// names the id of a bundle sent to another partner answers nothing; only
// the partner a bundle went to can answer it.
func TestTrackerKeyedByPartner(t *testing.T) {
	const toA, toB = "0193b2c4-6d2e-7c1a-9f00-00000000000a", "0193b2c4-6d2e-7c1a-9f00-00000000000b"
	tr := NewTracker()
	for _, r := range []Record{
		{Event: EvUploaded, Outcome: OutcomeOK, Partner: "a", Bundle: toA, Kind: "request", Time: "2026-11-01T09:00:00Z"},
		{Event: EvUploaded, Outcome: OutcomeOK, Partner: "b", Bundle: toB, Kind: "request", Time: "2026-11-01T09:01:00Z"},
		// B answers A's request, twice over: receipt and response.
		{Event: EvReceipt, Outcome: OutcomeOK, Partner: "b", InReplyTo: toA},
		{Event: EvFiled, Outcome: OutcomeOK, Partner: "b", Kind: "response", InReplyTo: toA},
		// A answers B's request.
		{Event: EvReceipt, Outcome: OutcomeOK, Partner: "a", InReplyTo: toB},
		{Event: EvFiled, Outcome: OutcomeOK, Partner: "a", Kind: "response", InReplyTo: toB},
	} {
		tr.Add(r)
	}
	dues := func(string) Dues { return Dues{Receipt: time.Hour, Response: time.Hour} }
	got := map[string]bool{}
	for _, a := range tr.Awaited(dues, time.Date(2026, 11, 1, 9, 30, 0, 0, time.UTC)) {
		got[a.Partner+"/"+a.Bundle+"/"+a.Awaiting] = true
	}
	want := []string{"a/" + toA + "/receipt", "a/" + toA + "/response", "b/" + toB + "/receipt", "b/" + toB + "/response"}
	for _, w := range want {
		if !got[w] {
			t.Errorf("%s no longer awaited after another partner named it: %v", w, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("awaited %v, want %v", got, want)
	}
	// The right partner's answers clear them.
	tr.Add(Record{Event: EvReceipt, Outcome: OutcomeOK, Partner: "a", InReplyTo: toA})
	tr.Add(Record{Event: EvFiled, Outcome: OutcomeOK, Partner: "a", Kind: "response", InReplyTo: toA})
	for _, a := range tr.Awaited(dues, time.Date(2026, 11, 1, 9, 30, 0, 0, time.UTC)) {
		if a.Bundle == toA {
			t.Errorf("%s still awaited after partner a answered it: %+v", toA, a)
		}
	}
}

// TestTrackerNoReceipts: a partner that sends no receipts (receipts: none)
// has nothing awaiting a receipt, however late, while its request still
// awaits a response; the other partner is tracked as before.
func TestTrackerNoReceipts(t *testing.T) {
	const toA, toB = "0193b2c4-6d2e-7c1a-9f00-00000000000a", "0193b2c4-6d2e-7c1a-9f00-00000000000b"
	tr := NewTracker()
	tr.Add(Record{Event: EvUploaded, Outcome: OutcomeOK, Partner: "a", Bundle: toA, Kind: "request", Time: "2026-11-01T09:00:00Z"})
	tr.Add(Record{Event: EvUploaded, Outcome: OutcomeOK, Partner: "b", Bundle: toB, Kind: "request", Time: "2026-11-01T09:01:00Z"})
	dues := func(p string) Dues {
		return Dues{Receipt: time.Second, Response: 365 * 24 * time.Hour, NoReceipts: p == "a"}
	}
	got := map[string]bool{}
	for _, a := range tr.Awaited(dues, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		got[a.Partner+"/"+a.Awaiting] = a.Overdue
	}
	want := map[string]bool{"a/response": false, "b/receipt": true, "b/response": false}
	if len(got) != len(want) {
		t.Fatalf("awaited %v, want %v", got, want)
	}
	for k, over := range want {
		if v, ok := got[k]; !ok || v != over {
			t.Errorf("%s: overdue %v (present %v), want %v", k, v, ok, over)
		}
	}
}
