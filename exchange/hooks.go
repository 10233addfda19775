package exchange

import (
	"time"

	"github.com/sealpost/sealpost/exchange/audit"
	"github.com/sealpost/sealpost/internal/progress"
)

// Progress is told how long work advances, so that the command line can
// draw it on a terminal; the engine itself never draws. In the daemon
// several tasks may run at once, each from its own goroutine.
type Progress = progress.Progress

// Task counts the bytes of one task as they go: the engine writes them
// (or a copy of them) to it. Write never fails. Done ends the task.
type Task = progress.Task

// SetProgress makes the engine report long work to p (nil: no reports).
// Call it before the engine runs.
func (e *Engine) SetProgress(p Progress) { e.progress = p }

// OnRecord makes the engine call fn with every record it has appended to
// the exchange log during a run, e.g. to keep metrics. fn may be called
// from several goroutines at once (the daemon's jobs). Call it before the
// engine runs.
func (e *Engine) OnRecord(fn func(audit.Record)) { e.onRecord = fn }

// SetClock makes the engine read the time from now instead of time.Now:
// the times it writes into records, receipts and checkpoints, and the
// clock against which receipt_due, response_due and key expiry are
// measured. It is for tests and simulations (a clock jumping back, a due
// date passing without waiting for it); now may be called from several
// goroutines at once. Call it before the engine runs.
func (e *Engine) SetClock(now func() time.Time) { e.now = now }

// observe passes a record just appended to the OnRecord function.
func (e *Engine) observe(rec audit.Record) {
	if e.onRecord != nil {
		e.onRecord(rec)
	}
}
