package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/sealpost/sealpost/exchange"
	"github.com/sealpost/sealpost/metrics"
	"github.com/sealpost/sealpost/schedule"
)

var daemonCommand = &command{
	name:     "daemon",
	summary:  "run on the schedules until SIGINT/SIGTERM (SIGHUP reloads)",
	synopsis: "daemon",
	examples: "  sealpost --config /etc/sealpost/sealpost.yaml daemon\n" +
		"  sealpost --log-format json daemon     # for journald or a log shipper\n" +
		"  kill -HUP $(pidof sealpost)           # reload the configuration (systemctl reload sealpost)\n" +
		"  curl -s http://127.0.0.1:9464/metrics # with metrics.listen set",
	run: cmdDaemon,
}

func cmdDaemon(ctx context.Context, e *env, args []string) error {
	fs := e.newFlags()
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	eng, err := e.engine()
	if err != nil {
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	log := e.logger()
	m, listen, err := serveMetrics(ctx, eng, log)
	if err != nil {
		eng.Close()
		return err
	}
	for {
		if m != nil {
			m.Attach(eng)
		}
		reload := make(chan struct{})
		done := make(chan error, 1)
		go func(eng *exchange.Engine) { done <- schedule.Run(ctx, eng, log, reload) }(eng)
		next, err := waitReload(e, ctx, hup, done)
		if next == nil {
			eng.Close()
			return err
		}
		log.Info("configuration reloaded; waiting for running jobs")
		if l := next.Config().Metrics.Listen; l != listen {
			log.Warn("metrics.listen changed; restart the daemon to apply it", "serving", listen, "configured", l)
		}
		close(reload)
		<-done
		eng.Close()
		eng = next
	}
}

// serveMetrics starts the Prometheus endpoint when metrics.listen is set
// (nil Metrics otherwise). It stops when ctx is done.
func serveMetrics(ctx context.Context, eng *exchange.Engine, log *slog.Logger) (*metrics.Metrics, string, error) {
	listen := eng.Config().Metrics.Listen
	if listen == "" {
		return nil, "", nil
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, "", fmt.Errorf("metrics.listen %s: %w", listen, err)
	}
	m := metrics.New()
	go func() {
		if err := m.Serve(ctx, ln); err != nil {
			log.Error("metrics endpoint stopped", "err", err)
		}
	}()
	args := []any{"url", "http://" + ln.Addr().String() + "/metrics"}
	if ip := net.ParseIP(ln.Addr().(*net.TCPAddr).IP.String()); ip != nil && !ip.IsLoopback() {
		log.Warn("metrics endpoint is reachable from the network; it has no authentication", args...)
	} else {
		log.Info("metrics endpoint listening", args...)
	}
	return m, listen, nil
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
