package exchange

import (
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

// observe passes a record just appended to the OnRecord function.
func (e *Engine) observe(rec audit.Record) {
	if e.onRecord != nil {
		e.onRecord(rec)
	}
}
