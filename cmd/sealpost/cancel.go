package main

import (
	"context"
	"fmt"

	"github.com/sealpost/sealpost/exchange"
)

// Engine calls without a context (Engine.Send, exchange.SealFile and
// exchange.OpenFile) are made cancellable from the command line through
// their progress tasks: once ctx is done, a task's Write fails with ctx's
// cause, so the copy, seal or open under way stops at its next write and
// cleans up as after any write error (Send removes its half-made item,
// SealFile its temporary file, OpenFile empties the output folder). This
// bends exchange.Task's "Write never fails" for these three calls only,
// until they take a context of their own; Run's tasks never fail.

// cancelling wraps p (nil: no drawing) so that its tasks fail once ctx is
// done.
func cancelling(ctx context.Context, p exchange.Progress) exchange.Progress {
	return cancelProgress{ctx: ctx, p: p}
}

type cancelProgress struct {
	ctx context.Context
	p   exchange.Progress
}

// Start begins a task that counts for p, if any, until ctx is done.
func (c cancelProgress) Start(label string, total int64) exchange.Task {
	t := cancelTask{ctx: c.ctx}
	if c.p != nil {
		t.t = c.p.Start(label, total)
	}
	return t
}

type cancelTask struct {
	ctx context.Context
	t   exchange.Task // nil: nothing drawn
}

// Write counts b, or fails once ctx is done.
func (t cancelTask) Write(b []byte) (int, error) {
	if t.ctx.Err() != nil {
		return 0, context.Cause(t.ctx)
	}
	if t.t == nil {
		return len(b), nil
	}
	return t.t.Write(b)
}

// Done ends the task.
func (t cancelTask) Done() {
	if t.t != nil {
		t.t.Done()
	}
}

// interrupted turns the error of a call that ctx stopped into one saying
// so and what was left undone (the call's own error would blame the
// files); other errors pass unchanged.
func interrupted(ctx context.Context, err error, left string) error {
	if err == nil || ctx.Err() == nil {
		return err
	}
	return fmt.Errorf("interrupted (%w); %s", context.Cause(ctx), left)
}
