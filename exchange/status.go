package exchange

import (
	"os"
	"sort"
	"strings"
	"time"

	"github.com/sealpost/sealpost/exchange/audit"
	"github.com/sealpost/sealpost/exchange/bundle"
)

// PartnerStatus is what `sealpost status` shows for one partner.
type PartnerStatus struct {
	Partner          string     `json:"partner"`
	Outbox           int        `json:"outbox"`        // items waiting in the outbox
	InFlight         int        `json:"in_flight"`     // claimed bundles not yet uploaded
	ReceiptsOwed     int        `json:"receipts_owed"` // receipts to send, not yet claimed
	Inbox            int        `json:"inbox"`         // bundles filed
	Quarantine       int        `json:"quarantine"`    // files refused
	Failed           int        `json:"failed"`        // outbox items that can never be sent
	LastPush         *time.Time `json:"last_push,omitempty"`
	LastPull         *time.Time `json:"last_pull,omitempty"`
	LastError        string     `json:"last_error,omitempty"` // of the latest run, if it failed
	AwaitingReceipt  []Pending  `json:"awaiting_receipt"`
	AwaitingResponse []Pending  `json:"awaiting_response"`
	Keys             []KeyState `json:"keys"` // our key, then the partner's pinned keys
}

// Pending is a bundle we sent that still waits for a receipt or response.
type Pending struct {
	Bundle    string    `json:"bundle"`
	Kind      string    `json:"kind"`
	Reference string    `json:"reference,omitempty"`
	Sent      time.Time `json:"sent"`
	Due       time.Time `json:"due"`
	Overdue   bool      `json:"overdue"`
}

// Status reports the queues and pending work of one partner (or all, when
// partner is ""), from the state folders and the exchange log.
func (e *Engine) Status(partner string) ([]PartnerStatus, error) {
	ids, err := e.partnerIDsOr(partner)
	if err != nil {
		return nil, err
	}
	byID := map[string]*statusBuilder{}
	for _, id := range ids {
		byID[id] = &statusBuilder{st: PartnerStatus{Partner: id}, receipt: map[string]Pending{}, response: map[string]Pending{}}
	}
	err = audit.Scan(e.dirs.audit(), func(rec audit.Record) error {
		if b := byID[rec.Partner]; b != nil {
			b.add(rec)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	now := e.now()
	var out []PartnerStatus
	for _, id := range ids {
		b, p := byID[id], e.cfg.Partners[id]
		st := b.st
		st.Outbox = countEntries(e.dirs.outbox(id), func(n string) bool { return !hiddenName(n) })
		st.InFlight = countEntries(e.dirs.workOut(id), nil)
		st.ReceiptsOwed = countEntries(e.dirs.workReceipt(id), func(n string) bool { return strings.HasSuffix(n, ".json") })
		st.Inbox = countEntries(e.dirs.inbox(id), nil)
		notReason := func(n string) bool { return !strings.HasSuffix(n, ".reason.json") }
		st.Quarantine = countEntries(e.dirs.quarantine(id), notReason)
		st.Failed = countEntries(e.dirs.failed(id), notReason)
		st.AwaitingReceipt = pendingList(b.receipt, p.ReceiptDue, now)
		st.AwaitingResponse = pendingList(b.response, p.ResponseDue, now)
		st.Keys = e.Keys.keyStates(e.cfg.Identity.ID, id, now)
		out = append(out, st)
	}
	return out, nil
}

// statusBuilder folds log records into one partner's status.
type statusBuilder struct {
	st       PartnerStatus
	receipt  map[string]Pending // bundle id → sent, no receipt yet
	response map[string]Pending // request id → sent, no response yet
}

func (b *statusBuilder) add(rec audit.Record) {
	t, _ := time.Parse(time.RFC3339, rec.Time)
	switch rec.Event {
	case evPushFinished, evPullFinished:
		if rec.Outcome == audit.OutcomeOK {
			if rec.Event == evPushFinished {
				b.st.LastPush = &t
			} else {
				b.st.LastPull = &t
			}
		}
	case audit.EvRunFinished:
		b.st.LastError = rec.Error
	case audit.EvUploaded:
		if rec.Outcome != audit.OutcomeOK || rec.Kind == bundle.KindReceipt {
			return
		}
		p := Pending{Bundle: rec.Bundle, Kind: rec.Kind, Reference: rec.Reference, Sent: t}
		b.receipt[rec.Bundle] = p
		if rec.Kind == bundle.KindRequest {
			b.response[rec.Bundle] = p
		}
	case audit.EvReceipt:
		if rec.Outcome != audit.OutcomeError {
			delete(b.receipt, rec.InReplyTo)
		}
	case audit.EvFiled:
		if rec.Kind == bundle.KindResponse {
			delete(b.response, rec.InReplyTo)
		}
	}
}

// pendingList sorts pending bundles by time sent and marks the overdue.
func pendingList(m map[string]Pending, due time.Duration, now time.Time) []Pending {
	out := []Pending{}
	for _, p := range m {
		p.Due = p.Sent.Add(due)
		p.Overdue = now.After(p.Due)
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Sent.Before(out[j].Sent) })
	return out
}

// countEntries counts the names in dir that keep says to count (all, when
// keep is nil).
func countEntries(dir string, keep func(string) bool) int {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	n := 0
	for _, de := range ents {
		if keep == nil || keep(de.Name()) {
			n++
		}
	}
	return n
}
