package exchange

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sealpost/sealpost/exchange/audit"
	"github.com/sealpost/sealpost/exchange/bundle"
)

// The states a push and a pull can be left in, as docs/states.md tables
// them: what is on disk marks each one, and the next run reads it and
// resumes from there. A push resumes claim by claim (finishClaim, which
// reads claimState); a pull resumes file by file in work/<p>/in
// (resumeIncoming, which reads pullStateOf). Temporary files (.*.tmp in
// work/ and sent/, the drop's hidden .part) are never a state: they are
// removed or written anew.

// pushStep is how far one claim in work/<p>/out/<id>/ got.
type pushStep int

const (
	// pushItemClaimed: item/<name> is in the claim, meta.json is missing
	// or torn. Next: write meta.json and log the claim.
	pushItemClaimed pushStep = iota
	// pushReceiptClaimed: receipt.json is in the claim, meta.json is
	// missing. Next: write meta.json.
	pushReceiptClaimed
	// pushIntent: meta.json says what bundle the claim becomes; nothing
	// is in sent/ yet. Next: seal into sent/ and upload at once.
	pushIntent
	// pushSealed: sent/<id>.pgp is durable; its upload is not logged.
	// Next: publish it from sent/ (unless the drop has it already), log.
	pushSealed
	// pushLogged: bundle.uploaded is logged. Next: remove the claim.
	pushLogged
	pushSteps // the number of push states; not a state
)

// pushDone is a claim that is gone: finished, moved to failed/, or an
// empty claim folder (a claim interrupted before its rename) removed.
const pushDone pushStep = -1

// pullStep is how far one downloaded file in work/<p>/in got.
type pullStep int

const (
	// pullFetched: work/<p>/in/<name>, nothing done with it yet (the drop
	// may still hold it). Next: verify, then file, take or refuse it.
	pullFetched pullStep = iota
	// pullReceiptOwed: work/<p>/receipts/<name>.json is owed, the bundle
	// is not in the inbox. Next: as fetched (owing again keeps one).
	pullReceiptOwed
	// pullFiled: inbox/<p>/<id>/ holds the bundle, bundle.filed is not
	// logged. Next: mark seen/, log, keep the ciphertext in received/.
	pullFiled
	// pullFiledLogged: bundle.filed is logged. Next: as any copy of a
	// bundle filed before: logged as a duplicate, kept in received/.
	pullFiledLogged
	// pullReceiptKept: an incoming receipt is in receipts/<p>/<id>.json,
	// not logged. Next: match it, log it, keep the ciphertext.
	pullReceiptKept
	// pullReceiptLogged: bundle.receipt is logged. Next: keep the
	// ciphertext.
	pullReceiptLogged
	// pullReasonKept: a refused file's reason is in quarantine/<p>/, the
	// file not beside it, the refusal not logged. Next: log, move beside.
	pullReasonKept
	// pullRejected: as pullReasonKept, and bundle.rejected is logged.
	// Next: move the file beside its reason.
	pullRejected
	// pullRejectedUnkept: quarantine/<p>/ is full and the refusal is
	// logged. Next: delete the file.
	pullRejectedUnkept
	pullSteps // the number of pull states; not a state
)

// stateRow is one row of the state table: a state's name and the crash
// points (crash.Point names) where a killed run leaves its work in it.
type stateRow struct {
	name   string
	points []string
}

// pushTable and pullTable are the state table, indexed by step. The crash
// tests iterate over them; docs/states.md is their long form.
var (
	pushTable = [pushSteps]stateRow{
		pushItemClaimed:    {"item-claimed", []string{"push.claimed"}},
		pushReceiptClaimed: {"receipt-claimed", []string{"receipt.claimed"}},
		pushIntent:         {"intent", []string{"push.uploading"}},
		pushSealed:         {"sealed", []string{"push.sealed", "push.published"}},
		pushLogged:         {"uploaded-logged", []string{"push.logged"}},
	}
	pullTable = [pullSteps]stateRow{
		pullFetched:        {"fetched", []string{"pull.downloaded", "pull.cleaned"}},
		pullReceiptOwed:    {"receipt-owed", []string{"pull.receipt-owed"}},
		pullFiled:          {"filed", []string{"pull.filed"}},
		pullFiledLogged:    {"filed-logged", []string{"pull.logged"}},
		pullReceiptKept:    {"receipt-kept", []string{"pull.receipt-kept"}},
		pullReceiptLogged:  {"receipt-logged", []string{"pull.receipt-logged"}},
		pullReasonKept:     {"reason-kept", []string{"pull.reason-kept"}},
		pullRejected:       {"rejected", []string{"pull.rejected"}},
		pullRejectedUnkept: {"rejected-unkept", []string{"pull.rejected-unkept"}},
	}
)

// String is the state's name in the table.
func (s pullStep) String() string { return pullTable[s].name }

// claimState reads how far a claim got, and the claim's meta (only Item
// set for pushItemClaimed). Debris is cleared on the way: a torn
// meta.json of a claim not yet sealed, an empty claim folder.
func (r *partnerRun) claimState(claim string) (pushStep, claimMeta, error) {
	var meta claimMeta
	metaPath := filepath.Join(claim, "meta.json")
	if r.tornMeta(claim, metaPath) {
		os.Remove(metaPath)
	}
	if !exists(metaPath) {
		return claimedState(claim)
	}
	if err := readJSON(metaPath, &meta); err != nil {
		return 0, meta, &localError{err}
	}
	switch sent := filepath.Join(r.e.dirs.sent(r.id), meta.ID+".pgp"); {
	case !exists(sent):
		return pushIntent, meta, nil
	case r.e.logged(audit.EvUploaded, r.id, meta.ID):
		return pushLogged, meta, nil
	}
	return pushSealed, meta, nil
}

// claimedState reads a claim without its meta.json: what was renamed in,
// or nothing (then the folder is removed).
func claimedState(claim string) (pushStep, claimMeta, error) {
	var meta claimMeta
	switch {
	case !exists(claim):
		return pushDone, meta, nil
	case exists(filepath.Join(claim, "receipt.json")):
		return pushReceiptClaimed, meta, nil
	case isDir(filepath.Join(claim, "item")):
		ents, _ := os.ReadDir(filepath.Join(claim, "item"))
		if len(ents) == 1 {
			meta.Item = ents[0].Name()
			return pushItemClaimed, meta, nil
		}
	}
	return pushDone, meta, removeClaim(claim)
}

// tornMeta reports whether an outbox claim's meta.json does not parse
// while nothing of the claim was sealed: a crash came before claimItems
// synced it, and it is written again.
func (r *partnerRun) tornMeta(claim, metaPath string) bool {
	var m claimMeta
	err := readJSON(metaPath, &m)
	var pe *fs.PathError
	sent := filepath.Join(r.e.dirs.sent(r.id), filepath.Base(claim)+".pgp")
	return err != nil && !errors.As(err, &pe) && isDir(filepath.Join(claim, "item")) && !exists(sent)
}

// pullStateOf reads how far an interrupted run took a file of
// work/<p>/in, now verified as v. A refused file's pending reason, if
// any, is set in v.reason.
func (r *partnerRun) pullStateOf(v *verified) pullStep {
	switch {
	case v.code != "":
		return r.refusalState(v)
	case v.m.Kind == bundle.KindReceipt:
		if r.e.logged(audit.EvReceipt, r.id, v.m.ID) {
			return pullReceiptLogged
		}
		if exists(filepath.Join(r.e.dirs.receipts(r.id), v.m.ID+".json")) {
			return pullReceiptKept
		}
		return pullFetched
	}
	if isDir(filepath.Join(r.e.dirs.inbox(r.id), v.m.ID)) || exists(filepath.Join(r.e.dirs.seen(r.id), v.m.ID)) {
		if r.e.logged(audit.EvFiled, r.id, v.m.ID) {
			return pullFiledLogged
		}
		return pullFiled
	}
	if exists(filepath.Join(r.e.dirs.workReceipt(r.id), v.name+".json")) {
		return pullReceiptOwed
	}
	return pullFetched
}

// refusalState reads how far the refusal of a file got: a reason written
// for it (logged or not), or, with quarantine/<p>/ full, a refusal logged.
func (r *partnerRun) refusalState(v *verified) pullStep {
	if v.reason = pendingReason(r.e.dirs.quarantine(r.id), v.incoming); v.reason != "" {
		if r.loggedRefusal(v.incoming) {
			return pullRejected
		}
		return pullReasonKept
	}
	if !r.quarantineRoom(v.size) && r.loggedRefusal(v.incoming) {
		return pullRejectedUnkept
	}
	return pullFetched
}
