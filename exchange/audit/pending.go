package audit

import (
	"sort"
	"time"
)

// Dues are how long a partner has to send a receipt for a bundle and a
// response to a request (config: receipt_due, response_due), and whether it
// sends receipts at all (config: receipts).
type Dues struct {
	Receipt  time.Duration
	Response time.Duration
	// NoReceipts (receipts: none): the partner sends no receipts, so no
	// bundle to it awaits one, and none is ever receipt-overdue.
	NoReceipts bool
}

// Awaited is a bundle we sent that waits for a receipt or a response.
type Awaited struct {
	Partner   string    `json:"partner"`
	Bundle    string    `json:"bundle"`
	Kind      string    `json:"kind"`
	Reference string    `json:"reference,omitempty"`
	Awaiting  string    `json:"awaiting"` // "receipt" or "response"
	Sent      time.Time `json:"sent"`
	Due       time.Time `json:"due"`
	Overdue   bool      `json:"overdue"`
}

// Tracker follows, record by record, which bundles we sent still wait for a
// receipt (every bundle but a receipt) or a response (requests), as
// `sealpost status` does. Its memory is the number of bundles waiting.
// A bundle is known by partner and id: only the partner it was sent to can
// answer it, whatever id another partner's receipt or response names.
type Tracker struct {
	receipt  map[sentKey]Awaited
	response map[sentKey]Awaited
}

// sentKey names a bundle we sent: the partner it went to and its id.
type sentKey struct{ partner, bundle string }

// NewTracker returns an empty Tracker.
func NewTracker() *Tracker {
	return &Tracker{receipt: map[sentKey]Awaited{}, response: map[sentKey]Awaited{}}
}

// Add folds one record, in log order, into the tracker.
func (t *Tracker) Add(r Record) {
	switch r.Event {
	case EvUploaded:
		if r.Outcome != OutcomeOK || r.Kind == "receipt" || r.Bundle == "" {
			return
		}
		sent, _ := time.Parse(time.RFC3339Nano, r.Time)
		a := Awaited{Partner: r.Partner, Bundle: r.Bundle, Kind: r.Kind, Reference: r.Reference, Sent: sent}
		a.Awaiting = "receipt"
		t.receipt[sentKey{r.Partner, r.Bundle}] = a
		if r.Kind == "request" {
			a.Awaiting = "response"
			t.response[sentKey{r.Partner, r.Bundle}] = a
		}
	case EvReceipt:
		if r.Outcome != OutcomeError {
			delete(t.receipt, sentKey{r.Partner, r.InReplyTo})
		}
	case EvFiled:
		if r.Kind == "response" {
			delete(t.response, sentKey{r.Partner, r.InReplyTo})
		}
	}
}

// Awaited returns what still waits, oldest first, with due times from
// dues (by partner) and overdue marked as of now. A partner that sends no
// receipts (Dues.NoReceipts) has nothing awaiting a receipt.
func (t *Tracker) Awaited(dues func(partner string) Dues, now time.Time) []Awaited {
	var out []Awaited
	for _, m := range []map[sentKey]Awaited{t.receipt, t.response} {
		for _, a := range m {
			d := dues(a.Partner)
			if a.Awaiting == "receipt" && d.NoReceipts {
				continue
			}
			wait := d.Receipt
			if a.Awaiting == "response" {
				wait = d.Response
			}
			a.Due = a.Sent.Add(wait)
			a.Overdue = now.After(a.Due)
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Sent.Equal(out[j].Sent) {
			return out[i].Sent.Before(out[j].Sent)
		}
		return out[i].Awaiting < out[j].Awaiting
	})
	return out
}
