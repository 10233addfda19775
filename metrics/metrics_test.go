package metrics_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/exchange"
	"github.com/sealpost/sealpost/internal/testworld"
	"github.com/sealpost/sealpost/metrics"
)

const (
	us = "us-cbp"
	uk = "uk-hmrc"
)

// engines starts us and uk exchanging over the in-process SFTP server
// (testworld.New). Our key expires in 20 days; our bundles are overdue for
// a receipt after 1s.
func engines(t *testing.T) (usEng, ukEng *exchange.Engine, root string) {
	t.Helper()
	return enginesWith(t, "receipt_due: 1s\n")
}

// enginesWith is engines with usExtra as the keys of our partner block.
func enginesWith(t *testing.T, usExtra string) (usEng, ukEng *exchange.Engine, root string) {
	t.Helper()
	srv := testworld.Loopback(t)
	parties := testworld.New(t, srv, testworld.Options{
		PartyExtra: map[string]string{us: usExtra},
		Lifetime:   map[string]time.Duration{us: 20 * 24 * time.Hour},
	}, us, uk)
	start := func(id string) *exchange.Engine {
		cfg, err := config.Load(parties[id].Config)
		must(t, err)
		eng, err := exchange.New(cfg, nil)
		must(t, err)
		t.Cleanup(func() { eng.Close() })
		return eng
	}
	return start(us), start(uk), srv.Root
}

// TestEndpoint serves the metrics of our engine over HTTP on a loopback
// port and checks every series after an exchange both ways.
func TestEndpoint(t *testing.T) {
	usEng, ukEng, root := engines(t)
	var clk clock
	usEng.SetClock(clk.now)
	url, stop := serve(t, usEng)

	before := scrape(t, url)
	for _, s := range []string{
		`sealpost_bundles_sent_total{kind="request",partner="uk-hmrc"} 0`,
		`sealpost_last_pull_success_timestamp_seconds{partner="uk-hmrc"} 0`,
		`sealpost_bytes_received_total{partner="uk-hmrc"} 0`,
	} {
		before.has(t, s)
	}

	// The partner sends us two bundles, we send one (which it never
	// answers) and leave one in the outbox.
	payload := strings.Repeat("evidence ", 1000)
	send(t, ukEng, us, "UK-1", payload)
	send(t, ukEng, us, "UK-2", payload)
	run(t, ukEng, us)
	send(t, usEng, uk, "US-1", payload)
	t0 := time.Now()
	run(t, usEng, uk)
	send(t, usEng, uk, "US-2", payload)
	clk.advance(2 * time.Second) // past our receipt_due of 1s

	got := scrape(t, url)
	got.has(t, `sealpost_bundles_filed_total{kind="request",partner="uk-hmrc"} 2`)
	got.has(t, `sealpost_bundles_sent_total{kind="request",partner="uk-hmrc"} 1`)
	got.has(t, `sealpost_bundles_sent_total{kind="receipt",partner="uk-hmrc"} 2`)
	got.has(t, `sealpost_runs_total{outcome="ok",partner="uk-hmrc"} 1`)
	got.has(t, `sealpost_queue_items{partner="uk-hmrc",queue="outbox"} 1`)
	got.has(t, `sealpost_awaiting_bundles{awaiting="receipt",partner="uk-hmrc"} 1`)
	got.has(t, `sealpost_overdue_bundles{awaiting="receipt",partner="uk-hmrc"} 1`)
	got.has(t, `sealpost_overdue_bundles{awaiting="response",partner="uk-hmrc"} 0`)
	if n := got.value(t, `sealpost_bytes_received_total{partner="uk-hmrc"}`); n < 2*float64(len(payload)) {
		t.Errorf("bytes received %v, want at least the two payloads", n)
	}
	if n := got.value(t, `sealpost_bytes_sent_total{partner="uk-hmrc"}`); n < float64(len(payload)) {
		t.Errorf("bytes sent %v, want at least one payload", n)
	}
	for _, s := range []string{"push", "pull"} {
		v := got.value(t, `sealpost_last_`+s+`_success_timestamp_seconds{partner="uk-hmrc"}`)
		if at := time.UnixMilli(int64(v * 1000)); at.Before(t0.Add(-time.Second)) || at.After(time.Now()) {
			t.Errorf("last %s at %s, want the run just done", s, at)
		}
	}
	// Our key expires in 20 days; the partner's never does (no series).
	fp := usEng.KeyStates()[0].Fingerprint
	if v := got.value(t, `sealpost_key_expiry_seconds{fingerprint="`+fp+`",owner="us-cbp"}`); v < 19*86400 || v > 20*86400 {
		t.Errorf("our key expires in %v s, want about 20 days", v)
	}
	if strings.Contains(got.text, `owner="uk-hmrc"`) {
		t.Errorf("a series for a key that never expires:\n%s", got.text)
	}

	// A refused bundle is counted by its code: the partner's next bundle
	// is damaged on the drop before we pull it.
	send(t, ukEng, us, "UK-3", payload)
	run(t, ukEng, us)
	damage(t, filepath.Join(root, uk+"-to-"+us))
	if res := usEng.RunPartner(context.Background(), exchange.RunOptions{Partner: uk}); res.Refused != 1 {
		t.Fatalf("damaged bundle: %+v", res)
	}
	got = scrape(t, url)
	got.has(t, `sealpost_runs_total{outcome="ok",partner="uk-hmrc"} 2`)
	got.has(t, `sealpost_bundles_filed_total{kind="request",partner="uk-hmrc"} 2`)
	refused := 0
	for _, l := range strings.Split(got.text, "\n") {
		if strings.HasPrefix(l, `sealpost_bundles_refused_total{code="`) && strings.HasSuffix(l, `",partner="uk-hmrc"} 1`) {
			refused++
		}
	}
	if refused != 1 {
		t.Errorf("want one refused series at 1:\n%s", got.text)
	}

	stop()
}

// serve starts eng's metrics endpoint on a free loopback port and returns
// its URL, and stop, which ends it and fails the test if serving failed.
func serve(t *testing.T, eng *exchange.Engine) (url string, stop func()) {
	t.Helper()
	m := metrics.New()
	m.Attach(eng)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- m.Serve(ctx, ln) }()
	return "http://" + ln.Addr().String() + "/metrics", func() {
		t.Helper()
		cancel()
		if err := <-served; err != nil {
			t.Fatal(err)
		}
	}
}

// TestNoReceipts: with receipts: none for the partner, a bundle it never
// answers is not awaiting a receipt nor overdue, however late; the request
// still awaits its response.
func TestNoReceipts(t *testing.T) {
	usEng, _, _ := enginesWith(t, "receipt_due: 1s\nreceipts: none\n")
	var clk clock
	usEng.SetClock(clk.now)
	url, stop := serve(t, usEng)

	send(t, usEng, uk, "US-1", "evidence")
	run(t, usEng, uk)
	clk.advance(time.Hour) // far past receipt_due
	got := scrape(t, url)
	got.has(t, `sealpost_bundles_sent_total{kind="request",partner="uk-hmrc"} 1`)
	got.has(t, `sealpost_awaiting_bundles{awaiting="receipt",partner="uk-hmrc"} 0`)
	got.has(t, `sealpost_overdue_bundles{awaiting="receipt",partner="uk-hmrc"} 0`)
	got.has(t, `sealpost_awaiting_bundles{awaiting="response",partner="uk-hmrc"} 1`)
	got.has(t, `sealpost_overdue_bundles{awaiting="response",partner="uk-hmrc"} 0`)
	stop()
}

// clock is the real time plus an offset the test advances, so that a due
// date passes without waiting for it. The engine's goroutines and the
// scrape may read it while the test advances it.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// damage flips a byte in the middle of every request in dir.
func damage(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	must(t, err)
	n := 0
	for _, e := range ents {
		if !strings.Contains(e.Name(), "_request_") {
			continue
		}
		n++
		p := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(p)
		must(t, err)
		data[len(data)/2] ^= 0xff
		must(t, os.WriteFile(p, data, 0o644))
	}
	if n == 0 {
		t.Fatal("no request to damage")
	}
}

type page struct{ text string }

func scrape(t *testing.T, url string) page {
	t.Helper()
	resp, err := http.Get(url)
	must(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	must(t, err)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, body)
	}
	return page{string(body)}
}

func (p page) has(t *testing.T, line string) {
	t.Helper()
	for _, l := range strings.Split(p.text, "\n") {
		if l == line {
			return
		}
	}
	t.Errorf("no line %q in the scrape", line)
}

func (p page) value(t *testing.T, series string) float64 {
	t.Helper()
	for _, l := range strings.Split(p.text, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			must(t, err)
			return f
		}
	}
	t.Fatalf("no series %s in the scrape", series)
	return 0
}

func send(t *testing.T, eng *exchange.Engine, to, ref, body string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), ref+".txt")
	must(t, os.WriteFile(p, []byte(body), 0o600))
	_, err := eng.Send(t.Context(), exchange.SendRequest{To: to, Reference: ref, Paths: []string{p}})
	must(t, err)
}

func run(t *testing.T, eng *exchange.Engine, partner string) {
	t.Helper()
	if res := eng.RunPartner(context.Background(), exchange.RunOptions{Partner: partner}); res.Err != nil {
		t.Fatal(res.Err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
