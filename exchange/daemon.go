package exchange

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// cronParser reads the schedules of SPEC §5: five fields or a descriptor
// (@every 5m, @hourly), with an optional CRON_TZ= prefix.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Schedule runs the partners' push and pull schedules until ctx is done or
// stop is closed. Schedules without CRON_TZ are in UTC, so daylight saving
// time never skips or repeats a run. Jobs for one partner never overlap (a
// job due while another for the same partner runs waits for it; a job due
// while its previous run is still going is skipped). On ctx's end the
// running jobs are cancelled: each finishes or cleanly abandons the
// transfer in flight (nothing is published half-done). On stop they finish.
func (e *Engine) Schedule(ctx context.Context, stop <-chan struct{}) error {
	c := cron.New(cron.WithParser(cronParser), cron.WithLocation(time.UTC),
		cron.WithChain(cron.Recover(cronLogger{e.logger}), cron.SkipIfStillRunning(cronLogger{e.logger})))
	locks := map[string]*sync.Mutex{}
	for _, id := range e.cfg.PartnerIDs() {
		p := e.cfg.Partners[id]
		locks[id] = &sync.Mutex{}
		for _, job := range []struct {
			spec string
			opt  RunOptions
			what string
		}{{p.Schedule.Push, RunOptions{Partner: id, PushOnly: true}, "push"}, {p.Schedule.Pull, RunOptions{Partner: id, PullOnly: true}, "pull"}} {
			if job.spec == "" {
				continue
			}
			id, job, mu := id, job, locks[id]
			_, err := c.AddFunc(job.spec, func() {
				mu.Lock()
				defer mu.Unlock()
				if ctx.Err() != nil {
					return
				}
				res := e.RunPartner(ctx, job.opt)
				e.logJob(id, job.what, res)
			})
			if err != nil {
				return &ConfigError{fmt.Errorf("partners.%s.schedule.%s: %q: %w", id, job.what, job.spec, err)}
			}
		}
	}
	if err := e.addCheckpointJob(c); err != nil {
		return err
	}
	c.Start()
	e.warnKeys()
	e.logger.Info("daemon started", "partners", len(locks), "jobs", len(c.Entries()))
	select {
	case <-ctx.Done():
	case <-stop:
	}
	<-c.Stop().Done()
	e.logger.Info("daemon stopped")
	return nil
}

// logJob reports a scheduled run's outcome to the operator's log.
func (e *Engine) logJob(partner, what string, res Result) {
	args := []any{"partner", partner, "job", what, "pushed", res.Pushed, "filed", res.Filed,
		"refused", res.Refused, "receipts", res.Receipts}
	switch {
	case errors.Is(res.Err, context.Canceled):
		e.logger.Info("scheduled run stopped for shutdown; the next run finishes its work", args...)
	case errors.Is(res.Err, ErrLocked):
		e.logger.Warn("scheduled run skipped: another run holds the partner's lock", args...)
	case res.Err != nil:
		e.logger.Error("scheduled run failed", append(args, "err", res.Err)...)
	default:
		e.logger.Info("scheduled run done", args...)
	}
}

// cronLogger adapts slog to cron's logger.
type cronLogger struct{ l *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.l.Debug("cron: "+msg, kv...) }
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error("cron: "+msg, append(kv, "err", err)...)
}
