package main

import (
	"context"
	"fmt"

	"github.com/sealpost/sealpost/exchange"
	"github.com/sealpost/sealpost/exchange/bundle"
)

var sendCommand = &command{
	name:     "send",
	summary:  "queue PATHs as one bundle for a partner",
	synopsis: "send --to P [--ref TEXT] [--reply-to ID] PATH...",
	examples: "  sealpost send --to uk-hmrc --ref CASE-2026-0042 request.pdf evidence/\n" +
		"  sealpost send --to uk-hmrc --reply-to 0193b2c4-6d2e-7c1a-9f00-3b1c2d4e5f60 answer.pdf",
	run: cmdSend,
}

func cmdSend(ctx context.Context, e *env, args []string) error {
	fs := e.newFlags()
	to := fs.String("to", "", "partner id (required)")
	ref := fs.String("ref", "", "reference, e.g. a case number (default: the first PATH's name)")
	reply := fs.String("reply-to", "", "id of the bundle this answers (makes it a response)")
	paths, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := checkSendFlags("send", *to, *ref, *reply, paths); err != nil {
		return err
	}
	prog := e.progress()
	eng, err := e.engine(partnerFlag{"to", *to})
	if err != nil {
		return err
	}
	defer eng.Close()
	eng.SetProgress(prog)
	name, err := eng.Send(ctx, exchange.SendRequest{To: *to, Reference: *ref, ReplyTo: *reply, Paths: paths})
	if err != nil {
		return interrupted(ctx, err, "nothing was queued")
	}
	fmt.Fprintf(e.stdout, "queued %s for %s (outbox item %s); it goes with the next push\n", joinPaths(paths), *to, name)
	return nil
}

// checkSendFlags checks what send and bundle seal were given before the
// engine sees it: --to and at least one PATH, a --ref no longer than a
// bundle's reference may be, a --reply-to that is a bundle id.
func checkSendFlags(cmd, to, ref, reply string, paths []string) error {
	switch {
	case to == "" || len(paths) == 0:
		return usagef("%s needs --to PARTNER and at least one PATH", cmd)
	case len(ref) > bundle.MaxReference:
		return usagef("--ref is %d bytes, more than %d", len(ref), bundle.MaxReference)
	case reply != "" && !bundle.ValidID(reply):
		return usagef("--reply-to %q is not a bundle id (a lowercase UUID)", reply)
	}
	return nil
}
