package main

import (
	"context"
	"fmt"
)

var runCommand = &command{
	name:     "run",
	summary:  "one exchange cycle now",
	synopsis: "run [--partner P] [--push-only | --pull-only]",
	examples: "  sealpost run                      # push and pull every partner once (for system cron)\n" +
		"  sealpost run --partner uk-hmrc --pull-only",
	run: cmdRun,
}

func cmdRun(ctx context.Context, e *env, args []string) error {
	fs := e.newFlags()
	partner := fs.String("partner", "", "only this partner")
	pushOnly := fs.Bool("push-only", false, "only push (outbox → partner)")
	pullOnly := fs.Bool("pull-only", false, "only pull (partner → inbox), and send the receipts it owes")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if *pushOnly && *pullOnly {
		return usagef("--push-only and --pull-only exclude each other")
	}
	prog := e.progress()
	eng, err := e.engine(partnerFlag{"partner", *partner})
	if err != nil {
		return err
	}
	defer eng.Close()
	eng.SetProgress(prog)
	results, err := eng.Run(ctx, runOptions(*partner, *pushOnly, *pullOnly))
	for _, r := range results {
		state := "ok"
		if r.Err != nil {
			state = "FAILED"
		}
		fmt.Fprintf(e.stdout, "%-12s %-6s pushed %d, filed %d, refused %d, receipts %d, failed %d\n",
			r.Partner, state, r.Pushed, r.Filed, r.Refused, r.Receipts, r.Failed)
	}
	if err == nil && refusedAny(results) {
		return &failedError{"some bundles were refused and quarantined; see 'sealpost status'"}
	}
	return err
}
