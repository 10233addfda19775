package exchange

import (
	"os"
	"strings"
	"time"

	"github.com/sealpost/sealpost/exchange/audit"
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
	Receipts         string     `json:"receipts"`             // "expected", or "none": the partner sends none, so nothing awaits one
	AwaitingReceipt  []Pending  `json:"awaiting_receipt"`
	AwaitingResponse []Pending  `json:"awaiting_response"`
	Keys             []KeyState `json:"keys"` // our key, then the partner's pinned keys
}

// Pending is a bundle we sent that still waits for a receipt or response;
// audit.Tracker decides, so status, metrics and the audit report agree.
type Pending = audit.Awaited

// Status reports the queues and pending work of one partner (or all, when
// partner is ""), from the state folders and the exchange log.
func (e *Engine) Status(partner string) ([]PartnerStatus, error) {
	ids, err := e.partnerIDsOr(partner)
	if err != nil {
		return nil, err
	}
	byID := map[string]*PartnerStatus{}
	for _, id := range ids {
		byID[id] = &PartnerStatus{Partner: id}
	}
	awaited := audit.NewTracker()
	err = audit.Scan(e.dirs.audit(), func(rec audit.Record) error {
		if st := byID[rec.Partner]; st != nil {
			lastRuns(st, rec)
			awaited.Add(rec)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	now := e.now()
	dues := func(p string) audit.Dues {
		cp := e.cfg.Partners[p]
		return audit.Dues{Receipt: cp.ReceiptDue, Response: cp.ResponseDue, NoReceipts: cp.NoReceipts}
	}
	for _, a := range awaited.Awaited(dues, now) {
		st := byID[a.Partner]
		if a.Awaiting == "response" {
			st.AwaitingResponse = append(st.AwaitingResponse, a)
		} else {
			st.AwaitingReceipt = append(st.AwaitingReceipt, a)
		}
	}
	var out []PartnerStatus
	for _, id := range ids {
		st := *byID[id]
		st.Receipts = "expected"
		if e.cfg.Partners[id].NoReceipts {
			st.Receipts = "none"
		}
		st.Outbox = countEntries(e.dirs.outbox(id), func(n string) bool { return !hiddenName(n) })
		st.InFlight = countEntries(e.dirs.workOut(id), nil)
		st.ReceiptsOwed = countEntries(e.dirs.workReceipt(id), func(n string) bool { return strings.HasSuffix(n, ".json") })
		st.Inbox = countEntries(e.dirs.inbox(id), nil)
		notReason := func(n string) bool { return !strings.HasSuffix(n, ".reason.json") }
		st.Quarantine = countEntries(e.dirs.quarantine(id), notReason)
		st.Failed = countEntries(e.dirs.failed(id), notReason)
		if st.AwaitingReceipt == nil {
			st.AwaitingReceipt = []Pending{}
		}
		if st.AwaitingResponse == nil {
			st.AwaitingResponse = []Pending{}
		}
		st.Keys = e.keys.keyStates(e.cfg.Identity.ID, id, now)
		out = append(out, st)
	}
	return out, nil
}

// lastRuns folds a record into the last push, pull and run outcome.
func lastRuns(st *PartnerStatus, rec audit.Record) {
	t, _ := time.Parse(time.RFC3339, rec.Time)
	switch {
	case rec.Event == evPushFinished && rec.Outcome == audit.OutcomeOK:
		st.LastPush = &t
	case rec.Event == evPullFinished && rec.Outcome == audit.OutcomeOK:
		st.LastPull = &t
	case rec.Event == audit.EvRunFinished:
		st.LastError = rec.Error
	}
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
