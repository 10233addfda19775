package main

import (
	"fmt"

	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/exchange"
	"github.com/sealpost/sealpost/internal/safetext"
)

func cmdBundle(e *env, args []string) error {
	if len(args) > 0 && isHelp(args[0]) {
		subcommandHelp(e, "bundle", [][2]string{
			{"bundle seal --to P [--ref TEXT] [-o FILE] PATH...", "seal PATHs into a bundle file, no transfer"},
			{"bundle open [--from P] -o DIR FILE", "verify and unpack a bundle file, no transfer"},
		}, "  sealpost bundle seal --to uk-hmrc --ref CASE-7 -o case7.pgp scans/   # carry it by other means\n"+
			"  sealpost bundle open -o case7/ uk-hmrc_us-cbp_request_0193b2c4-6d2e-7c1a-9f00-3b1c2d4e5f60.pgp")
		return nil
	}
	if len(args) == 0 {
		return usagef("bundle needs a subcommand: seal or open")
	}
	switch args[0] {
	case "seal":
		return cmdBundleSeal(e, args[1:])
	case "open":
		return cmdBundleOpen(e, args[1:])
	}
	return usagef("unknown bundle subcommand %q (have: seal, open)", args[0])
}

func cmdBundleSeal(e *env, args []string) error {
	fs := e.newFlags("bundle seal", "bundle seal --to P [--ref TEXT] [--reply-to ID] [-o FILE] PATH...",
		"  sealpost bundle seal --to uk-hmrc --ref CASE-7 -o case7.pgp scans/\n"+
			"  # the partner opens it with: gpg --decrypt case7.pgp | tar -x")
	to := fs.String("to", "", "partner id (required)")
	ref := fs.String("ref", "", "reference (default: the first PATH's name)")
	reply := fs.String("reply-to", "", "id of the bundle this answers")
	out := fs.String("o", "", "output file (default: the bundle's drop name in the current folder)")
	paths, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *to == "" || len(paths) == 0 {
		return usagef("bundle seal needs --to PARTNER and at least one PATH")
	}
	cfg, keys, err := e.keys()
	if err != nil {
		return err
	}
	m, path, err := exchange.SealFile(cfg, keys, exchange.SendRequest{To: *to, Reference: *ref, ReplyTo: *reply, Paths: paths},
		exchange.SealOptions{Output: *out, Progress: e.progress()})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "sealed %s bundle %s (%d files) for %s into %s\n", m.Kind, m.ID, len(m.Files), *to, path)
	return nil
}

func cmdBundleOpen(e *env, args []string) error {
	fs := e.newFlags("bundle open", "bundle open [--from P] -o DIR FILE",
		"  sealpost bundle open -o case7/ uk-hmrc_us-cbp_request_0193b2c4-6d2e-7c1a-9f00-3b1c2d4e5f60.pgp")
	from := fs.String("from", "", "partner that sent it (default: from the file name)")
	out := fs.String("o", "", "folder to unpack into (required; created, must be empty)")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *out == "" || len(rest) != 1 {
		return usagef("bundle open needs -o DIR and exactly one FILE")
	}
	cfg, keys, err := e.keys()
	if err != nil {
		return err
	}
	m, err := exchange.OpenFile(cfg, keys, rest[0], *out, exchange.OpenOptions{From: *from, Progress: e.progress()})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "verified %s bundle %s from %s (reference %s, %d files) into %s\n",
		m.Kind, m.ID, m.Sender, safetext.Quote(m.Reference), len(m.Files), *out)
	return nil
}

// keys loads the configuration and its keys, without the state folder:
// bundle seal and open work on files only.
func (e *env) keys() (*config.Config, *exchange.Keys, error) {
	cfg, err := e.loadConfig()
	if err != nil {
		return nil, nil, err
	}
	keys, err := exchange.LoadKeys(cfg)
	return cfg, keys, err
}
