package exchange

import (
	"context"
	"io"
	"io/fs"
	"path/filepath"

	"github.com/sealpost/sealpost/exchange/audit"
	"github.com/sealpost/sealpost/exchange/bundle"
)

// Progress is told how long work advances, so that the command line can
// draw it on a terminal; the engine itself never draws. In the daemon
// several tasks may run at once, each from its own goroutine.
type Progress interface {
	// Start announces a task that moves about total bytes (0 when not
	// known; the count may end a little above it) and returns its Task.
	Start(label string, total int64) Task
}

// Task counts the bytes of one task as they go: the engine writes them
// (or a copy of them) to it. Write never fails. Done ends the task.
type Task interface {
	io.Writer
	Done()
}

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

// startTask starts a progress task, or a silent one without a Progress.
func startTask(p Progress, label string, total int64) Task {
	if p == nil {
		return noTask{}
	}
	return p.Start(label, total)
}

type noTask struct{}

func (noTask) Write(b []byte) (int, error) { return len(b), nil }
func (noTask) Done()                       {}

// sourcesSize adds up the sizes of the regular files under srcs: about
// what sealing them writes (not following links, ignoring errors).
func sourcesSize(srcs []bundle.Source) int64 {
	var n int64
	for _, s := range srcs {
		n += treeSize(s.Path)
	}
	return n
}

// treeSize adds up the sizes of the regular files at or under path.
func treeSize(path string) int64 {
	var n int64
	filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// stopOn passes writes to w until ctx is done, then fails them with ctx's
// cause: a copy, seal or open that reports its progress through it stops
// at its next write and cleans up as after any write error.
func stopOn(ctx context.Context, w io.Writer) io.Writer { return ctxWriter{ctx, w} }

type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

// Write passes b on, or fails once the context is done.
func (c ctxWriter) Write(b []byte) (int, error) {
	if c.ctx.Err() != nil {
		return 0, context.Cause(c.ctx)
	}
	return c.w.Write(b)
}
