package bundlefile

import (
	"context"
	"io"
	"io/fs"
	"path/filepath"

	"github.com/sealpost/sealpost/exchange"
	"github.com/sealpost/sealpost/exchange/bundle"
)

// startTask starts a progress task, or a silent one without a Progress.
func startTask(p exchange.Progress, label string, total int64) exchange.Task {
	if p == nil {
		return noTask{}
	}
	return p.Start(label, total)
}

type noTask struct{}

func (noTask) Write(b []byte) (int, error) { return len(b), nil }
func (noTask) Done()                       {}

// sourcesSize adds up the sizes of the regular files at or under srcs:
// about what sealing them writes (not following links, ignoring errors).
func sourcesSize(srcs []bundle.Source) int64 {
	var n int64
	for _, s := range srcs {
		filepath.WalkDir(s.Path, func(_ string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				if fi, err := d.Info(); err == nil {
					n += fi.Size()
				}
			}
			return nil
		})
	}
	return n
}

// stopOn passes writes to w until ctx is done, then fails them with ctx's
// cause: a seal or open that reports its progress through it stops at its
// next write and cleans up as after any write error.
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
