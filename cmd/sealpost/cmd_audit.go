package main

import (
	"fmt"
	"path/filepath"

	"github.com/sealpost/sealpost/exchange/audit"
)

func cmdAudit(e *env, args []string) error {
	if len(args) == 0 {
		return usagef("audit needs a subcommand: verify")
	}
	switch args[0] {
	case "verify":
		return cmdAuditVerify(e, args[1:])
	}
	return usagef("unknown audit subcommand %q (have: verify)", args[0])
}

func cmdAuditVerify(e *env, args []string) error {
	fs := e.newFlags("audit verify", "audit verify [--dir FOLDER]",
		"  sealpost audit verify\n  sealpost audit verify --dir /mnt/copy-of-audit   # a copy, without a configuration")
	dir := fs.String("dir", "", "the audit folder to check (default: state_dir/audit of the configuration)")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("audit verify takes no arguments, got %q", rest[0])
	}
	if *dir == "" {
		cfg, err := e.loadConfig()
		if err != nil {
			return err
		}
		*dir = filepath.Join(cfg.StateDir, "audit")
	}
	sum, err := audit.Verify(*dir)
	if err != nil {
		return &failedError{fmt.Sprintf("exchange log in %s does not verify: %v", *dir, err)}
	}
	fmt.Fprintf(e.stdout, "exchange log OK: %d records in %d file(s), head seq %d sha256 %s\n",
		sum.Records, len(sum.Files), sum.HeadSeq, sum.HeadSHA256)
	return nil
}
