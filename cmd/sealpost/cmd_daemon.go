package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/sealpost/sealpost/exchange"
)

func cmdDaemon(e *env, args []string) error {
	fs := e.newFlags("daemon", "daemon",
		"  sealpost --config /etc/sealpost/sealpost.yaml daemon\n"+
			"  kill -HUP $(pidof sealpost)   # reload the configuration")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("daemon takes no arguments, got %q", rest[0])
	}
	eng, err := e.engine()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	log := e.logger()
	for {
		reload := make(chan struct{})
		done := make(chan error, 1)
		go func(eng *exchange.Engine) { done <- eng.Schedule(ctx, reload) }(eng)
		next, err := waitReload(e, ctx, hup, done)
		if next == nil {
			eng.Close()
			return err
		}
		log.Info("configuration reloaded; waiting for running jobs")
		close(reload)
		<-done
		eng.Close()
		eng = next
	}
}

// waitReload waits for the schedule to end (returns nil and its error) or
// for SIGHUP with a configuration that loads (returns the new engine). A
// configuration that does not load is reported and the old one kept.
func waitReload(e *env, ctx context.Context, hup <-chan os.Signal, done <-chan error) (*exchange.Engine, error) {
	log := e.logger()
	for {
		select {
		case err := <-done:
			return nil, err
		case <-hup:
			next, err := e.engine()
			if err != nil {
				log.Error("reload refused; keeping the running configuration", "err", err)
				continue
			}
			return next, nil
		}
	}
}
