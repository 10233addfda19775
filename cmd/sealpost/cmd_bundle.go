package main

import (
	"context"
	"fmt"

	"github.com/sealpost/sealpost/bundlefile"
	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/exchange"
	"github.com/sealpost/sealpost/internal/safetext"
)

var bundleCommand = &command{
	name:     "bundle",
	summary:  "seal or open a bundle file without transfer",
	synopsis: "bundle seal|open [FLAGS] ARGS",
	examples: "  sealpost bundle seal --to uk-hmrc --ref CASE-7 -o case7.pgp scans/   # carry it by other means\n" +
		"  sealpost bundle open -o case7/ uk-hmrc_us-cbp_request_0193b2c4-6d2e-7c1a-9f00-3b1c2d4e5f60.pgp",
	subs: []*command{bundleSealCommand, bundleOpenCommand},
}

var bundleSealCommand = &command{
	name:     "bundle seal",
	summary:  "seal PATHs into a bundle file, no transfer",
	synopsis: "bundle seal --to P [--ref TEXT] [--reply-to ID] [-o FILE] PATH...",
	examples: "  sealpost bundle seal --to uk-hmrc --ref CASE-7 -o case7.pgp scans/\n" +
		"  # the partner opens it with: gpg --decrypt case7.pgp | tar -x",
	run: cmdBundleSeal,
}

func cmdBundleSeal(ctx context.Context, e *env, args []string) error {
	fs := e.newFlags()
	to := fs.String("to", "", "partner id (required)")
	ref := fs.String("ref", "", "reference (default: the first PATH's name)")
	reply := fs.String("reply-to", "", "id of the bundle this answers")
	out := fs.output("write the bundle to `FILE` (default: the bundle's drop name in the current folder)")
	paths, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := checkSendFlags("bundle seal", *to, *ref, *reply, paths); err != nil {
		return err
	}
	cfg, keys, err := e.keys(partnerFlag{"to", *to})
	if err != nil {
		return err
	}
	m, path, err := bundlefile.SealFile(ctx, cfg, keys, exchange.SendRequest{To: *to, Reference: *ref, ReplyTo: *reply, Paths: paths},
		bundlefile.SealOptions{Output: *out, Progress: e.progress()})
	if err != nil {
		return interrupted(ctx, err, "no bundle file was written")
	}
	fmt.Fprintf(e.stdout, "sealed %s bundle %s (%d files) for %s into %s\n", m.Kind, m.ID, len(m.Files), *to, path)
	return nil
}

var bundleOpenCommand = &command{
	name:     "bundle open",
	summary:  "verify and unpack a bundle file, no transfer",
	synopsis: "bundle open [--from P] -o DIR FILE",
	examples: "  sealpost bundle open -o case7/ uk-hmrc_us-cbp_request_0193b2c4-6d2e-7c1a-9f00-3b1c2d4e5f60.pgp",
	run:      cmdBundleOpen,
}

func cmdBundleOpen(ctx context.Context, e *env, args []string) error {
	fs := e.newFlags()
	from := fs.String("from", "", "partner that sent it (default: from the file name)")
	out := fs.output("`DIR` to unpack into (required; created, must be empty)")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *out == "" || len(rest) != 1 {
		return usagef("bundle open needs -o DIR and exactly one FILE")
	}
	cfg, keys, err := e.keys(partnerFlag{"from", *from})
	if err != nil {
		return err
	}
	m, err := bundlefile.OpenFile(ctx, cfg, keys, rest[0], *out, bundlefile.OpenOptions{From: *from, Progress: e.progress()})
	if err != nil {
		return interrupted(ctx, err, *out+" was left empty")
	}
	fmt.Fprintf(e.stdout, "verified %s bundle %s from %s (reference %s, %d files) into %s\n",
		m.Kind, m.ID, m.Sender, safetext.Quote(m.Reference), len(m.Files), *out)
	return nil
}

// keys loads the configuration and its keys, without the state folder:
// bundle seal and open work on files only. It checks the partners the
// command line names first.
func (e *env) keys(named ...partnerFlag) (*config.Config, *exchange.Keys, error) {
	cfg, err := e.loadConfig(named...)
	if err != nil {
		return nil, nil, err
	}
	keys, err := exchange.LoadKeys(cfg)
	return cfg, keys, err
}
