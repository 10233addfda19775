package exchange

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sealpost/sealpost/exchange/audit"
	"github.com/sealpost/sealpost/exchange/bundle"
	"github.com/sealpost/sealpost/internal/fsx"
	"github.com/sealpost/sealpost/internal/safetext"
)

// owedReceipt is a receipt we must send, recorded in work/<p>/receipts/
// before the bundle it answers is filed or quarantined, so that a crash
// cannot leave a bundle unanswered.
type owedReceipt struct {
	InReplyTo string         `json:"in_reply_to"`
	Reference string         `json:"reference"`
	Receipt   bundle.Receipt `json:"receipt"`
}

// maxOwnReason bounds the reason we send, so that with the length Cut adds
// it stays within bundle.MaxReason, which a partner's reader enforces.
const maxOwnReason = bundle.MaxReason - 32

// oweReceipt records the receipt for an incoming file, named after the file
// so that recording it twice keeps one. A long reason is cut.
func (r *partnerRun) oweReceipt(in incoming, id, ref, status, code, reason string) error {
	forWhat := id
	if forWhat == "" {
		forWhat = in.name
	}
	o := owedReceipt{InReplyTo: id, Reference: ref, Receipt: bundle.Receipt{For: forWhat,
		CiphertextSHA256: in.sha256, Status: status, Code: code, Reason: safetext.Cut(reason, maxOwnReason)}}
	path := filepath.Join(r.e.dirs.workReceipt(r.id), in.name+".json")
	if err := writeJSON(path, o); err != nil {
		return &localError{fmt.Errorf("record the receipt owed for %s: %w", in.name, err)}
	}
	return nil
}

// claimReceipts turns each owed receipt into a claim, like an outbox item:
// the rename into work/<p>/out/<id>/receipt.json is the claim.
func (r *partnerRun) claimReceipts() error {
	dir := r.e.dirs.workReceipt(r.id)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	for _, de := range ents {
		if strings.HasPrefix(de.Name(), ".") || !strings.HasSuffix(de.Name(), ".json") {
			continue
		}
		id := bundle.NewID()
		claim := filepath.Join(r.e.dirs.workOut(r.id), id)
		if err := fsx.MkdirAll(claim, 0o700); err != nil {
			return fmt.Errorf("claim receipt %s: %w", de.Name(), err)
		}
		if err := fsx.Rename(filepath.Join(dir, de.Name()), filepath.Join(claim, "receipt.json")); err != nil {
			return fmt.Errorf("claim receipt %s: %w", de.Name(), err)
		}
		crashpoint("receipt.claimed")
		if err := r.writeReceiptMeta(claim, id); err != nil {
			return err
		}
	}
	return nil
}

// writeReceiptMeta records the intent for a claimed receipt.
func (r *partnerRun) writeReceiptMeta(claim, id string) error {
	var o owedReceipt
	if err := readJSON(filepath.Join(claim, "receipt.json"), &o); err != nil {
		return &localError{err}
	}
	rc := o.Receipt
	m := claimMeta{ID: id, Kind: bundle.KindReceipt, Reference: o.Reference, InReplyTo: o.InReplyTo,
		Created: r.e.now().UTC().Truncate(time.Second), Receipt: &rc}
	return writeJSON(filepath.Join(claim, "meta.json"), m)
}

// takeReceipt records a verified incoming receipt: its manifest is kept in
// receipts/<p>/<id>.json and it is matched against what we sent, by bundle
// id and by the SHA-256 of the exact bytes we uploaded.
func (r *partnerRun) takeReceipt(in incoming, m *bundle.Manifest) error {
	path := filepath.Join(r.e.dirs.receipts(r.id), m.ID+".json")
	if exists(path) {
		// A receipt taken before, delivered again: kept as evidence, not counted.
		if err := r.record(audit.Record{Event: evDuplicate, Bundle: m.ID, Kind: m.Kind, File: in.name, Bytes: in.size,
			SHA256: in.sha256, Detail: "receipt " + m.ID + " was already received; this copy is dropped"}, nil); err != nil {
			return err
		}
		return r.keepCiphertext(in)
	}
	if err := writeJSON(path, m); err != nil {
		return &localError{fmt.Errorf("keep receipt %s: %w", m.ID, err)}
	}
	crashpoint("pull.receipt-kept")
	return r.logReceipt(in, m)
}

// logReceipt matches a receipt kept in receipts/<p>/ against what we sent,
// logs it with the outcome, and keeps its ciphertext in received/.
func (r *partnerRun) logReceipt(in incoming, m *bundle.Manifest) error {
	rc := m.Receipt
	rec := audit.Record{Event: audit.EvReceipt, Bundle: m.ID, Kind: m.Kind, File: in.name, Bytes: in.size,
		SHA256: in.sha256, InReplyTo: receiptFor(rc), Code: rc.Code, Detail: rc.Status}
	if m.LogHead != nil {
		rec.PeerLogHead = &audit.LogHead{Seq: m.LogHead.Seq, SHA256: m.LogHead.SHA256}
	}
	if err := r.matchReceipt(rc); err != nil {
		rec.Outcome, rec.Error = "error", err.Error()
	} else if rc.Status == bundle.StatusRejected {
		rec.Outcome, rec.Error = "rejected", fmt.Sprintf("partner refused bundle %s (%s): %s", rc.For, rc.Code, rc.Reason)
	}
	if err := r.record(rec, nil); err != nil {
		return err
	}
	r.res.Receipts++
	crashpoint("pull.receipt-logged")
	return r.keepCiphertext(in)
}

// matchReceipt checks that a receipt answers a bundle we sent, and that the
// hash it gives is that of the bytes we sent.
func (r *partnerRun) matchReceipt(rc *bundle.Receipt) error {
	id := receiptFor(rc)
	sent := filepath.Join(r.e.dirs.sent(r.id), id+".pgp")
	if !bundle.ValidID(id) || !exists(sent) {
		return fmt.Errorf("receipt for %q matches nothing we sent to %s", rc.For, r.id)
	}
	sum, err := fileSHA256(sent)
	if err != nil {
		return err
	}
	if sum != rc.CiphertextSHA256 {
		return fmt.Errorf("receipt for %s gives ciphertext sha256 %s, but we sent %s", rc.For, rc.CiphertextSHA256, sum)
	}
	return nil
}

// receiptFor returns the id of the bundle a receipt answers: its `for`, or
// the id in the file name it gives when the partner could not read the
// bundle.
func receiptFor(rc *bundle.Receipt) string {
	if n, ok := bundle.ParseFileName(rc.For); ok {
		return n.ID
	}
	return rc.For
}
