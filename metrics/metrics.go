// Package metrics is the daemon's optional Prometheus endpoint (/metrics):
// counters of what the engine did, fed by the records it appends to the
// exchange log, and gauges read from the state folders and the log at each
// scrape (queues, last success, overdue bundles, key expiry).
//
// Series (all prefixed sealpost_):
//
//	bundles_sent_total{partner,kind}       bundles uploaded (kind request, response or receipt)
//	bundles_filed_total{partner,kind}      incoming bundles filed in the inbox
//	bundles_refused_total{partner,code}    incoming files quarantined, by receipt code
//	receipts_received_total{partner}       partners' receipts for our bundles
//	bytes_sent_total{partner}              ciphertext bytes uploaded
//	bytes_received_total{partner}          ciphertext bytes downloaded
//	runs_total{partner,outcome}            exchange cycles finished (ok or error)
//	last_push_success_timestamp_seconds{partner}  unix time of the last push without error (0: never)
//	last_pull_success_timestamp_seconds{partner}  unix time of the last pull without error (0: never)
//	queue_items{partner,queue}             outbox, in_flight, receipts_owed, quarantine, failed
//	awaiting_bundles{partner,awaiting}     sent bundles awaiting a receipt or a response
//	                                       (never a receipt from a partner with receipts: none)
//	overdue_bundles{partner,awaiting}      of those, how many are overdue
//	key_expiry_seconds{owner,fingerprint}  seconds until a key in use expires (negative: expired);
//	                                       keys that never expire have no series
//
// The counters start at 0 when the daemon starts; the gauges survive
// restarts, as they come from the state folder.
package metrics

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sealpost/sealpost/exchange"
	"github.com/sealpost/sealpost/exchange/audit"
	"github.com/sealpost/sealpost/exchange/bundle"
)

const ns = "sealpost"

// Metrics holds the series of one daemon. It survives configuration
// reloads: Attach each new engine.
type Metrics struct {
	reg      *prometheus.Registry
	sent     *prometheus.CounterVec
	filed    *prometheus.CounterVec
	refused  *prometheus.CounterVec
	receipts *prometheus.CounterVec
	bytesOut *prometheus.CounterVec
	bytesIn  *prometheus.CounterVec
	runs     *prometheus.CounterVec

	mu  sync.Mutex
	eng *exchange.Engine // read at each scrape
}

// New makes the series and their registry (with the Go runtime's and the
// process's own collectors).
func New() *Metrics {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help}, labels)
	}
	m := &Metrics{
		reg:      prometheus.NewRegistry(),
		sent:     counter("bundles_sent_total", "Bundles uploaded to the partner's drop, by kind (request, response, receipt).", "partner", "kind"),
		filed:    counter("bundles_filed_total", "Incoming bundles verified and filed in the inbox, by kind.", "partner", "kind"),
		refused:  counter("bundles_refused_total", "Incoming files refused and quarantined, by receipt code.", "partner", "code"),
		receipts: counter("receipts_received_total", "Receipts received from the partner for our bundles.", "partner"),
		bytesOut: counter("bytes_sent_total", "Bytes of sealed bundles uploaded.", "partner"),
		bytesIn:  counter("bytes_received_total", "Bytes of partners' files downloaded.", "partner"),
		runs:     counter("runs_total", "Exchange cycles finished, by outcome (ok, error).", "partner", "outcome"),
	}
	m.reg.MustRegister(m.sent, m.filed, m.refused, m.receipts, m.bytesOut, m.bytesIn, m.runs,
		stateCollector{m}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Attach makes m count what eng does and read its state at each scrape.
// The partners it knows get every counter at 0, so that their series exist
// before the first event.
func (m *Metrics) Attach(eng *exchange.Engine) {
	for _, id := range eng.Config().PartnerIDs() {
		for _, kind := range []string{bundle.KindRequest, bundle.KindResponse, bundle.KindReceipt} {
			m.sent.WithLabelValues(id, kind)
			m.filed.WithLabelValues(id, kind)
		}
		m.receipts.WithLabelValues(id)
		m.bytesOut.WithLabelValues(id)
		m.bytesIn.WithLabelValues(id)
		m.runs.WithLabelValues(id, audit.OutcomeOK)
		m.runs.WithLabelValues(id, audit.OutcomeError)
	}
	eng.OnRecord(m.Observe)
	m.mu.Lock()
	m.eng = eng
	m.mu.Unlock()
}

// Observe counts one record the engine appended to the exchange log.
func (m *Metrics) Observe(rec audit.Record) {
	p := rec.Partner
	switch rec.Event {
	case audit.EvUploaded:
		if rec.Outcome == audit.OutcomeOK {
			m.sent.WithLabelValues(p, rec.Kind).Inc()
			m.bytesOut.WithLabelValues(p).Add(float64(rec.Bytes))
		}
	case audit.EvDownloaded:
		if rec.Outcome == audit.OutcomeOK {
			m.bytesIn.WithLabelValues(p).Add(float64(rec.Bytes))
		}
	case audit.EvFiled:
		if rec.Outcome == audit.OutcomeOK {
			m.filed.WithLabelValues(p, rec.Kind).Inc()
		}
	case audit.EvRejected:
		m.refused.WithLabelValues(p, rec.Code).Inc()
	case audit.EvReceipt:
		if rec.Outcome != audit.OutcomeError {
			m.receipts.WithLabelValues(p).Inc()
		}
	case audit.EvRunFinished:
		outcome := audit.OutcomeOK
		if rec.Outcome != audit.OutcomeOK {
			outcome = audit.OutcomeError
		}
		m.runs.WithLabelValues(p, outcome).Inc()
	}
}

// Handler serves the registry in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Serve serves /metrics on ln until ctx is done, then shuts the server down.
func (m *Metrics) Serve(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("sealpost metrics: see /metrics\n"))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Shutdown(sctx)
		case <-done:
		}
	}()
	err := srv.Serve(ln)
	close(done)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

var (
	lastPushDesc = prometheus.NewDesc(ns+"_last_push_success_timestamp_seconds",
		"Unix time of the last push phase without error (0: never).", []string{"partner"}, nil)
	lastPullDesc = prometheus.NewDesc(ns+"_last_pull_success_timestamp_seconds",
		"Unix time of the last pull phase without error (0: never).", []string{"partner"}, nil)
	queueDesc = prometheus.NewDesc(ns+"_queue_items",
		"Items in a partner's queues: outbox (waiting), in_flight (claimed, not uploaded), receipts_owed, quarantine, failed.",
		[]string{"partner", "queue"}, nil)
	awaitingDesc = prometheus.NewDesc(ns+"_awaiting_bundles",
		"Bundles sent that await a receipt or a response.", []string{"partner", "awaiting"}, nil)
	overdueDesc = prometheus.NewDesc(ns+"_overdue_bundles",
		"Bundles sent whose receipt or response is overdue (receipt_due, response_due).", []string{"partner", "awaiting"}, nil)
	keyExpiryDesc = prometheus.NewDesc(ns+"_key_expiry_seconds",
		"Seconds until a key in use expires (negative once expired); keys that never expire have no series.",
		[]string{"owner", "fingerprint"}, nil)
	scrapeErrDesc = prometheus.NewDesc(ns+"_state_scrape_error",
		"1 when the state folder or the exchange log could not be read for this scrape.", nil, nil)
)

// stateCollector reads the gauges from the attached engine at each scrape.
type stateCollector struct{ m *Metrics }

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{lastPushDesc, lastPullDesc, queueDesc, awaitingDesc, overdueDesc, keyExpiryDesc, scrapeErrDesc} {
		ch <- d
	}
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	eng := c.m.eng
	c.m.mu.Unlock()
	if eng == nil {
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	sts, err := eng.Status("")
	failed := 0.0
	if err != nil {
		failed = 1
	}
	gauge(scrapeErrDesc, failed)
	for _, st := range sts {
		p := st.Partner
		gauge(lastPushDesc, unix(st.LastPush), p)
		gauge(lastPullDesc, unix(st.LastPull), p)
		for q, n := range map[string]int{"outbox": st.Outbox, "in_flight": st.InFlight, "receipts_owed": st.ReceiptsOwed,
			"quarantine": st.Quarantine, "failed": st.Failed} {
			gauge(queueDesc, float64(n), p, q)
		}
		for what, ps := range map[string][]exchange.Pending{"receipt": st.AwaitingReceipt, "response": st.AwaitingResponse} {
			overdue := 0
			for _, pd := range ps {
				if pd.Overdue {
					overdue++
				}
			}
			gauge(awaitingDesc, float64(len(ps)), p, what)
			gauge(overdueDesc, float64(overdue), p, what)
		}
	}
	now := time.Now()
	for _, k := range eng.KeyStates() {
		if k.Expires != nil {
			gauge(keyExpiryDesc, k.Expires.Sub(now).Seconds(), k.Owner, k.Fingerprint)
		}
	}
}

func unix(t *time.Time) float64 {
	if t == nil {
		return 0
	}
	return float64(t.UnixMilli()) / 1000
}
