package main

import (
	"fmt"

	"github.com/sealpost/sealpost/exchange"
)

func cmdSend(e *env, args []string) error {
	fs := e.newFlags("send", "send --to P [--ref TEXT] [--reply-to ID] PATH...",
		"  sealpost send --to uk-hmrc --ref CASE-2026-0042 request.pdf evidence/\n"+
			"  sealpost send --to uk-hmrc --reply-to 0193b2c4-6d2e-7c1a-9f00-3b1c2d4e5f60 answer.pdf")
	to := fs.String("to", "", "partner id (required)")
	ref := fs.String("ref", "", "reference, e.g. a case number (default: the first PATH's name)")
	reply := fs.String("reply-to", "", "id of the bundle this answers (makes it a response)")
	paths, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *to == "" || len(paths) == 0 {
		return usagef("send needs --to PARTNER and at least one PATH")
	}
	prog := e.progress()
	eng, err := e.engine()
	if err != nil {
		return err
	}
	defer eng.Close()
	eng.SetProgress(prog)
	name, err := eng.Send(exchange.SendRequest{To: *to, Reference: *ref, ReplyTo: *reply, Paths: paths})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "queued %s for %s (outbox item %s); it goes with the next push\n", joinPaths(paths), *to, name)
	return nil
}
