package exchange

import (
	"path/filepath"

	"github.com/sealpost/sealpost/internal/crash"
)

// layout names the folders under state_dir (SPEC §3 plus the engine's own
// work folders). Every path helper takes the partner id.
type layout struct{ root string }

func (l layout) outbox(p string) string     { return filepath.Join(l.root, "outbox", p) }
func (l layout) inbox(p string) string      { return filepath.Join(l.root, "inbox", p) }
func (l layout) sent(p string) string       { return filepath.Join(l.root, "sent", p) }
func (l layout) received(p string) string   { return filepath.Join(l.root, "received", p) }
func (l layout) receipts(p string) string   { return filepath.Join(l.root, "receipts", p) }
func (l layout) quarantine(p string) string { return filepath.Join(l.root, "quarantine", p) }
func (l layout) failed(p string) string     { return filepath.Join(l.root, "failed", p) }
func (l layout) audit() string              { return filepath.Join(l.root, "audit") }
func (l layout) lock(p string) string       { return filepath.Join(l.root, "locks", p+".lock") }

// seen/<p>/<id> is an empty file for every bundle id filed from the
// partner: the replay guard, which holds when the operator has taken the
// bundle out of the inbox and received/ has been pruned.
func (l layout) seen(p string) string { return filepath.Join(l.root, "seen", p) }

// work/<p>/out/<id>/ holds one claimed outgoing bundle, work/<p>/in/ the
// downloaded files not yet filed, work/<p>/stage/ the folders being
// unpacked, work/<p>/receipts/ the receipts owed but not yet claimed.
func (l layout) workOut(p string) string     { return filepath.Join(l.root, "work", p, "out") }
func (l layout) workIn(p string) string      { return filepath.Join(l.root, "work", p, "in") }
func (l layout) workStage(p string) string   { return filepath.Join(l.root, "work", p, "stage") }
func (l layout) workReceipt(p string) string { return filepath.Join(l.root, "work", p, "receipts") }

// partnerDirs lists every folder a partner needs, created 0700 on start.
func (l layout) partnerDirs(p string) []string {
	return []string{
		l.outbox(p), l.inbox(p), l.sent(p), l.received(p), l.receipts(p),
		l.quarantine(p), l.failed(p), l.workOut(p), l.workIn(p),
		l.workStage(p), l.workReceipt(p), filepath.Dir(l.lock(p)), l.audit(), l.seen(p),
	}
}

// crashpoint names a step boundary where the crash tests kill the process.
var crashpoint = crash.Point
