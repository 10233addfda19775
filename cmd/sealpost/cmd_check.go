package main

import (
	"context"
	"fmt"

	"github.com/sealpost/sealpost/check"
)

var checkCommand = &command{
	name:     "check",
	summary:  "check configuration, keys, permissions, host keys and the drop",
	synopsis: "check [--partner P]",
	examples: "  sealpost check                      # everything, before the first run and after each change\n" +
		"  sealpost check --partner uk-hmrc    # one partner's keys, login and folders\n" +
		"Marks: ✓ passed, ! works but needs attention (does not fail), ✗ failed.\n" +
		"Exit 0 when nothing failed, 1 when a check failed, 2 when the configuration does not load.",
	run: cmdCheck,
}

func cmdCheck(ctx context.Context, e *env, args []string) error {
	fs := e.newFlags()
	partner := fs.String("partner", "", "only this partner")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	path, err := e.configFile()
	if err != nil {
		return err
	}
	cfg, item := check.Load(path)
	if cfg != nil {
		if err := (partnerFlag{"partner", *partner}).check(cfg); err != nil {
			return err
		}
	}
	printItem(e, item)
	if cfg == nil {
		_, err := e.loadConfig() // the same error, for the exit status
		return err
	}
	r, err := check.Run(ctx, cfg, check.Options{Partner: *partner})
	if err != nil {
		return usagef("%v", err)
	}
	for _, it := range r.Items {
		printItem(e, it)
	}
	failed, warned := r.Count(check.Fail), r.Count(check.Warn)
	fmt.Fprintf(e.stdout, "\n%d checks: %d ok, %d to look at, %d failed\n", len(r.Items)+1, len(r.Items)+1-failed-warned, warned, failed)
	if failed > 0 {
		return &failedError{fmt.Sprintf("%d check(s) failed; see the hints above", failed)}
	}
	return nil
}

// printItem prints one finding: its mark and text, and its hint below.
func printItem(e *env, it check.Item) {
	fmt.Fprintf(e.stdout, "%s %s\n", it.Mark, it.Text)
	if it.Hint != "" {
		fmt.Fprintf(e.stdout, "    hint: %s\n", it.Hint)
	}
}
