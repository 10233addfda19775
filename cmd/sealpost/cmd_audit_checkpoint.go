package main

import (
	"context"
	"fmt"
)

var auditCheckpointCommand = &command{
	name:     "audit checkpoint",
	summary:  "write an OpenPGP-signed statement of the log's head",
	synopsis: "audit checkpoint [-o FILE]",
	examples: "  sealpost audit checkpoint                 # into audit.checkpoint_dir\n" +
		"  sealpost audit checkpoint -o - | mail -s 'sealpost checkpoint' auditor@example.org\n" +
		"  gpg --verify checkpoint-20261127T020000Z-000000001234.asc   # anyone with our public key",
	run: cmdAuditCheckpoint,
}

func cmdAuditCheckpoint(_ context.Context, e *env, args []string) error {
	fs := e.newFlags()
	out := fs.output("write the signed checkpoint to `FILE` (\"-\": standard output; default: audit.checkpoint_dir)")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	eng, err := e.engine()
	if err != nil {
		return err
	}
	defer eng.Close()
	cp, err := eng.Checkpoint(*out)
	if err != nil {
		return err
	}
	c, path := cp.Statement, cp.Path
	if path == "-" {
		_, err := e.stdout.Write(cp.Signed)
		return err
	}
	fmt.Fprintf(e.stdout, "checkpoint of the exchange log at seq %d sha256 %s written to %s\ncheck it with: gpg --verify %s   or   sealpost audit verify --checkpoint %s\n",
		c.Seq, c.SHA256, path, path, path)
	return nil
}
