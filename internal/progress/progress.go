// Package progress is how long work reports how far it has come, so that
// the command line can draw it; the code that does the work never draws.
package progress

import (
	"context"
	"io"
	"io/fs"
	"path/filepath"
)

// Progress is told how long work advances. In the daemon several tasks may
// run at once, each from its own goroutine.
type Progress interface {
	// Start announces a task that moves about total bytes (0 when not
	// known; the count may end a little above it) and returns its Task.
	Start(label string, total int64) Task
}

// Task counts the bytes of one task as they go: the work writes them (or a
// copy of them) to it. Write never fails. Done ends the task.
type Task interface {
	io.Writer
	Done()
}

// Start starts a task of p, or a silent one when p is nil.
func Start(p Progress, label string, total int64) Task {
	if p == nil {
		return silent{}
	}
	return p.Start(label, total)
}

type silent struct{}

func (silent) Write(b []byte) (int, error) { return len(b), nil }
func (silent) Done()                       {}

// StopOn passes writes to w until ctx is done, then fails them with ctx's
// cause: a copy, seal or open that reports its progress through it stops
// at its next write and cleans up as after any write error.
func StopOn(ctx context.Context, w io.Writer) io.Writer { return ctxWriter{ctx, w} }

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

// TreeSize adds up the sizes of the regular files at or under path, not
// following links and ignoring errors: about what copying or sealing them
// moves.
func TreeSize(path string) int64 {
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
