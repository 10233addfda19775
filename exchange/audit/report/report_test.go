package report

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/exchange/audit"
)

const (
	reqA     = "0193b2c4-6d2e-7c1a-9f00-00000000000a" // to uk-hmrc, answered
	reqD     = "0193b2c4-6d2e-7c1a-9f00-00000000000d" // to fr-dgddi, never answered
	respC    = "0193b2c4-6d2e-7c1a-9f00-00000000000c"
	evilName = "evil\nname\x1b[31m\u202e<b>.pgp"
)

var traffic = []audit.Record{
	{Time: "2026-11-01T09:05:01.000Z", Event: audit.EvUploaded, Partner: "uk-hmrc", Bundle: reqA, Kind: "request", Bytes: 1000, Reference: "CASE-1"},
	{Time: "2026-11-01T09:05:02.000Z", Event: audit.EvUploaded, Partner: "fr-dgddi", Bundle: reqD, Kind: "request", Bytes: 3 << 20, Reference: "CASE-2"},
	{Time: "2026-11-01T10:00:00.000Z", Event: audit.EvReceipt, Partner: "uk-hmrc", Kind: "receipt", InReplyTo: reqA, Detail: "filed"},
	{Time: "2026-11-02T10:00:00.000Z", Event: audit.EvReceipt, Partner: "fr-dgddi", Kind: "receipt", InReplyTo: reqD,
		Outcome: audit.OutcomeRejected, Code: "unknown_signer", Error: "partner refused bundle (unknown_signer): not our key"},
	{Time: "2026-11-03T08:00:00.000Z", Event: audit.EvDownloaded, Partner: "uk-hmrc", File: "x.pgp", Bytes: 2000},
	{Time: "2026-11-03T08:00:01.000Z", Event: audit.EvFiled, Partner: "uk-hmrc", Bundle: respC, Kind: "response", InReplyTo: reqA},
	{Time: "2026-11-04T08:00:00.000Z", Event: audit.EvDownloaded, Partner: "uk-hmrc", File: evilName, Bytes: 50},
	{Time: "2026-11-04T08:00:02.000Z", Event: audit.EvRejected, Outcome: audit.OutcomeRejected, Partner: "uk-hmrc", File: evilName,
		Code: "decrypt", Error: "cannot decrypt <script>alert(1)</script>"},
	{Time: "2026-11-04T08:00:03.000Z", Event: audit.EvRunFinished, Partner: "uk-hmrc"},
}

// trafficLog writes traffic to a new log and returns its folder.
func trafficLog(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "audit")
	l, err := audit.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, r := range traffic {
		if r.Outcome == "" {
			r.Outcome = audit.OutcomeOK
		}
		if _, err := l.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var now = time.Date(2026, 11, 5, 12, 0, 0, 0, time.UTC)

func TestBuild(t *testing.T) {
	r, err := Build(trafficLog(t), Options{Self: "us-cbp", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Chain.OK || r.Chain.Records != int64(len(traffic)) || r.Records != int64(len(traffic)) {
		t.Errorf("chain %+v, %d records", r.Chain, r.Records)
	}
	if len(r.Partners) != 2 || r.Partners[0].Partner != "fr-dgddi" {
		t.Fatalf("partners %+v", r.Partners)
	}
	fr, uk := *r.Partners[0], *r.Partners[1]
	if fr.SentBundles != 1 || fr.SentBytes != 3<<20 || fr.RefusedByPartner != 1 || fr.ReceiptsIn != 1 {
		t.Errorf("fr-dgddi %+v", fr)
	}
	if uk.SentBundles != 1 || uk.ReceivedFiles != 2 || uk.ReceivedBytes != 2050 || uk.Filed != 1 || uk.RefusedByUs != 1 {
		t.Errorf("uk-hmrc %+v", uk)
	}
	var days []string
	for _, d := range r.Days {
		days = append(days, d.Date)
	}
	if strings.Join(days, " ") != "2026-11-01 2026-11-02 2026-11-03 2026-11-04" || r.Days[1].OutBundles != 0 || r.Days[0].OutBundles != 2 {
		t.Errorf("days %v", days)
	}
	if len(r.Awaited) != 1 || r.Awaited[0].Bundle != reqD || r.Awaited[0].Awaiting != "response" || r.Overdue() != 0 {
		t.Errorf("awaited %+v", r.Awaited)
	}
	if len(r.Refusals) != 2 || r.Refusals[0].By != "partner" || r.Refusals[0].Bundle != reqD || r.Refusals[1].File != evilName {
		t.Errorf("refusals %+v", r.Refusals)
	}
}

func TestBuildWindowAndPartner(t *testing.T) {
	since, _ := time.Parse(time.DateOnly, "2026-11-03")
	r, err := Build(trafficLog(t), Options{Partner: "uk-hmrc", Since: since, Now: now.Add(40 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Partners) != 1 || r.Partners[0].SentBundles != 0 || r.Partners[0].ReceivedFiles != 2 || r.Records != 5 {
		t.Errorf("partners %+v, %d records", r.Partners, r.Records)
	}
	if len(r.Awaited) != 0 {
		t.Errorf("awaited (uk-hmrc answered everything) %+v", r.Awaited)
	}
	r, err = Build(trafficLog(t), Options{Partner: "fr-dgddi", Now: now.Add(40 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Awaited) != 1 || !r.Awaited[0].Overdue || r.Overdue() != 1 {
		t.Errorf("after 40 days the request to fr-dgddi is overdue: %+v", r.Awaited)
	}
}

func TestBuildBrokenChain(t *testing.T) {
	dir := trafficLog(t)
	path := filepath.Join(dir, audit.FileName)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, bytes.Replace(data, []byte(`"bytes":1000`), []byte(`"bytes":100`), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := Build(dir, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if r.Chain.OK || !strings.Contains(r.Chain.Error, "exchange.jsonl:2: seq 2: prev") || r.Chain.Records != 1 {
		t.Errorf("chain %+v", r.Chain)
	}
	html := render(t, r)
	if !strings.Contains(html, "Chain BROKEN") || !strings.Contains(html, "exchange.jsonl:2") {
		t.Errorf("the page does not show the broken chain")
	}
}

func render(t *testing.T, r *Report) string {
	t.Helper()
	var out bytes.Buffer
	if err := r.WriteHTML(&out); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// parsedPage is what TestHTML reads back from the page with encoding/xml.
type parsedPage struct {
	elements map[string]int    // element name → count
	classes  map[string]int    // "rect.out" → count
	ids      map[string]string // id → text inside
	text     strings.Builder
}

func parsePage(t *testing.T, html string) *parsedPage {
	t.Helper()
	p := &parsedPage{elements: map[string]int{}, classes: map[string]int{}, ids: map[string]string{}}
	d := xml.NewDecoder(strings.NewReader(html))
	d.Strict = true
	var open []string // ids of open elements
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the page is not well-formed: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			p.elements[el.Name.Local]++
			id := ""
			for _, a := range el.Attr {
				switch a.Name.Local {
				case "class":
					p.classes[el.Name.Local+"."+a.Value]++
				case "id":
					id = a.Value
				}
			}
			open = append(open, id)
		case xml.EndElement:
			open = open[:len(open)-1]
		case xml.CharData:
			p.text.Write(el)
			for _, id := range open {
				if id != "" {
					p.ids[id] += string(el)
				}
			}
		}
	}
	return p
}

func TestHTML(t *testing.T) {
	r, err := Build(trafficLog(t), Options{Self: "us-cbp", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	html := render(t, r)
	for _, banned := range []string{"<script", "src=", "http:", "https:", "url(", "@import", "<link"} {
		if strings.Contains(html, banned) {
			t.Errorf("the page holds %q: it must not load or run anything", banned)
		}
	}
	for _, c := range html {
		if c != '\n' && audit.Escape(string(c)) != string(c) && c != '\\' {
			t.Fatalf("the page holds a raw %U", c)
		}
	}
	p := parsePage(t, html)
	if p.elements["svg"] != 2 || p.classes["rect.out"] != 2*(4+1) || p.classes["rect.in"] != 2*(4+1) {
		t.Errorf("charts: %d svg, %d out bars, %d in bars (want 2, 10, 10 with the legend)", p.elements["svg"], p.classes["rect.out"], p.classes["rect.in"])
	}
	if p.elements["title"] != 1+2*2*4 {
		t.Errorf("%d titles (page and one per bar)", p.elements["title"])
	}
	text := p.text.String()
	for _, want := range []string{"Exchange report of us-cbp", "Chain OK", `evil\nname\x1b[31m\u202e<b>.pgp`,
		"cannot decrypt <script>alert(1)</script>", "unknown_signer", reqD, "2026-11-04", "3.1 MB", "4.0 MB"} {
		if !strings.Contains(text, want) {
			t.Errorf("the page does not say %q", want)
		}
	}
	if got := p.ids["total-sent"]; got != "2" {
		t.Errorf("total sent %q", got)
	}
	if got := p.ids["refused"]; got != "2" {
		t.Errorf("refused %q", got)
	}
	if got := strings.Count(p.ids["partners"], "uk-hmrc"); got != 1 {
		t.Errorf("partners table %q", p.ids["partners"])
	}
}

func TestHTMLEmptyLog(t *testing.T) {
	r, err := Build(t.TempDir(), Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	p := parsePage(t, render(t, r))
	if text := p.text.String(); !strings.Contains(text, "No traffic in this window") || !strings.Contains(text, "Chain OK") {
		t.Errorf("empty report:\n%s", text)
	}
}

func TestNiceScale(t *testing.T) {
	for n, want := range map[int64][2]int64{0: {4, 1}, 3: {3, 1}, 5: {5, 1}, 9: {10, 2}, 37: {40, 10}, 100: {100, 20},
		101: {125, 25}, 3 << 20: {4000000, 1000000}} {
		if top, step := niceScale(n); top != want[0] || step != want[1] {
			t.Errorf("niceScale(%d) = %d, %d; want %v", n, top, step, want)
		}
	}
}

func TestAwaitedRowsOverdueFirstAndCapped(t *testing.T) {
	r := &Report{}
	for i := range MaxRows + 10 {
		r.Awaited = append(r.Awaited, audit.Awaited{Bundle: string(rune('a' + i%26)), Overdue: i == MaxRows+5})
	}
	rows, more := r.awaitedRows()
	if len(rows) != MaxRows || more != 10 || !rows[0].Overdue || rows[1].Overdue {
		t.Errorf("%d rows (first overdue %v), %d more", len(rows), rows[0].Overdue, more)
	}
	p := parsePage(t, render(t, r))
	if !strings.Contains(p.text.String(), "and 10 more open") || p.classes["tr.overdue"] != 1 {
		t.Errorf("the page does not cap the rows")
	}
}

// TestBuildNoReceipts: a response the partner never receipts is overdue by
// the default dues, and not awaited at all when the partner sends no
// receipts (receipts: none).
func TestBuildNoReceipts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "audit")
	l, err := audit.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = l.Append(audit.Record{Time: "2026-11-01T09:05:01.000Z", Event: audit.EvUploaded, Outcome: audit.OutcomeOK,
		Partner: "gpg-only", Bundle: respC, Kind: "response", InReplyTo: reqA})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	r, err := Build(dir, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Awaited) != 1 || r.Awaited[0].Awaiting != "receipt" || r.Overdue() != 1 {
		t.Errorf("default dues: awaited %+v, want the response's receipt overdue", r.Awaited)
	}
	none := func(string) audit.Dues { return audit.Dues{Receipt: time.Hour, Response: time.Hour, NoReceipts: true} }
	r, err = Build(dir, Options{Now: now, Dues: none})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Awaited) != 0 || r.Overdue() != 0 {
		t.Errorf("receipts: none: awaited %+v, want nothing", r.Awaited)
	}
}
