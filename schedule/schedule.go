// Package schedule is sealpost's daemon: it runs the engine's exchanges
// for each partner on the partner's push and pull schedules, and the
// exchange log's checkpoints on theirs. It is a client of the engine
// (package exchange), which knows nothing of time-driven runs.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/sealpost/sealpost/exchange"
)

// cronParser reads the schedules of SPEC §5: five fields or a descriptor
// (@every 5m, @hourly), with an optional CRON_TZ= prefix.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Run runs the push and pull schedules of e's partners, and its checkpoints
// (audit.checkpoint), until ctx is done or stop is closed, reporting to
// logger (nil: nowhere). Schedules without CRON_TZ are in UTC, so daylight
// saving time never skips or repeats a run. Jobs for one partner never
// overlap (a job due while another for the same partner runs waits for it;
// a job due while its previous run is still going is skipped). On ctx's end
// the running jobs are cancelled: each finishes or cleanly abandons the
// transfer in flight (nothing is published half-done). On stop they finish.
func Run(ctx context.Context, e *exchange.Engine, logger *slog.Logger, stop <-chan struct{}) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := cron.New(cron.WithParser(cronParser), cron.WithLocation(time.UTC),
		cron.WithChain(cron.Recover(cronLogger{logger}), cron.SkipIfStillRunning(cronLogger{logger})))
	cfg := e.Config()
	locks := map[string]*sync.Mutex{}
	for _, id := range cfg.PartnerIDs() {
		p := cfg.Partners[id]
		locks[id] = &sync.Mutex{}
		for _, job := range []struct {
			spec string
			opt  exchange.RunOptions
			what string
		}{{p.Schedule.Push, exchange.RunOptions{Partner: id, PushOnly: true}, "push"}, {p.Schedule.Pull, exchange.RunOptions{Partner: id, PullOnly: true}, "pull"}} {
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
				logJob(logger, id, job.what, res)
			})
			if err != nil {
				return &exchange.ConfigError{Err: fmt.Errorf("partners.%s.schedule.%s: %q: %w", id, job.what, job.spec, err)}
			}
		}
	}
	if err := addCheckpointJob(c, e, logger); err != nil {
		return err
	}
	c.Start()
	e.WarnKeys()
	logger.Info("daemon started", "partners", len(locks), "jobs", len(c.Entries()))
	select {
	case <-ctx.Done():
	case <-stop:
	}
	<-c.Stop().Done()
	logger.Info("daemon stopped")
	return nil
}

// logJob reports a scheduled run's outcome to the operator's log.
func logJob(logger *slog.Logger, partner, what string, res exchange.Result) {
	args := []any{"partner", partner, "job", what, "pushed", res.Pushed, "filed", res.Filed,
		"refused", res.Refused, "receipts", res.Receipts}
	switch {
	case errors.Is(res.Err, context.Canceled):
		logger.Info("scheduled run stopped for shutdown; the next run finishes its work", args...)
	case errors.Is(res.Err, exchange.ErrLocked):
		logger.Warn("scheduled run skipped: another run holds the partner's lock", args...)
	case res.Err != nil:
		logger.Error("scheduled run failed", append(args, "err", res.Err)...)
	default:
		logger.Info("scheduled run done", args...)
	}
}

// cronLogger adapts slog to cron's logger.
type cronLogger struct{ l *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.l.Debug("cron: "+msg, kv...) }
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error("cron: "+msg, append(kv, "err", err)...)
}

// addCheckpointJob schedules e's checkpoints (audit.checkpoint), if any,
// on c.
func addCheckpointJob(c *cron.Cron, e *exchange.Engine, logger *slog.Logger) error {
	spec := e.Config().Audit.Checkpoint
	if spec == "" {
		return nil
	}
	_, err := c.AddFunc(spec, func() {
		start := time.Now()
		cp, err := e.Checkpoint("")
		if err != nil {
			logger.Error("scheduled checkpoint failed", "err", err)
			return
		}
		logger.Info("checkpoint written", "file", cp.Path, "seq", cp.Statement.Seq, "sha256", cp.Statement.SHA256, "took", time.Since(start).Round(time.Millisecond))
	})
	if err != nil {
		return &exchange.ConfigError{Err: fmt.Errorf("audit.checkpoint: %q: %w", spec, err)}
	}
	return nil
}
