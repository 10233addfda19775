package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/crypto"
	"github.com/sealpost/sealpost/exchange"
	"github.com/sealpost/sealpost/exchange/audit"
)

var auditCommand = &command{
	name:     "audit",
	summary:  "query, verify, checkpoint and report on the exchange log (audit verify|list|show|report|checkpoint)",
	synopsis: "audit verify|list|show|report|checkpoint [FLAGS] [ARGS]",
	examples: "  sealpost audit list --partner uk-hmrc --since 7d\n" +
		"  sealpost audit list --event overdue\n" +
		"  sealpost audit list --event overdue --as-of 2026-11-30\n" +
		"  sealpost audit show 0193b2c4-6d2e-7c1a-9f00-3b1c2d4e5f60\n" +
		"  sealpost audit verify --dir /mnt/copy-of-audit --checkpoint cp.asc --key us-cbp.public.asc\n" +
		"  sealpost audit report -o report.html --since 2026-11-01 --until 2026-11-30",
	subs: []*command{auditVerifyCommand, auditListCommand, auditShowCommand, auditReportCommand, auditCheckpointCommand},
}

// auditSource is the log an audit command reads and, when there is one,
// the configuration it belongs to.
type auditSource struct {
	dir string
	cfg *config.Config // nil when --dir was given without a configuration
}

// auditSource resolves --dir: an auditor's copy of the audit folder needs
// no configuration; without --dir the configuration's state_dir/audit is
// read. A configuration named by --config or $SEALPOST_CONFIG is loaded
// either way (for partners' due times and our key).
func (e *env) auditSource(dir string) (auditSource, error) {
	explicit := e.configPath != "" || os.Getenv("SEALPOST_CONFIG") != ""
	if dir != "" && !explicit {
		return auditSource{dir: dir}, nil
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return auditSource{}, err
	}
	if dir == "" {
		dir = filepath.Join(cfg.StateDir, "audit")
	}
	return auditSource{dir: dir, cfg: cfg}, nil
}

// dues returns each partner's receipt_due, response_due and receipts (the
// defaults without a configuration).
func (s auditSource) dues(partner string) audit.Dues {
	if s.cfg != nil {
		if p, ok := s.cfg.Partners[partner]; ok {
			return audit.Dues{Receipt: p.ReceiptDue, Response: p.ResponseDue, NoReceipts: p.NoReceipts}
		}
	}
	return audit.Dues{Receipt: config.DefaultReceiptDue, Response: config.DefaultResponseDue}
}

// whenFlags are --since and --until, parsed.
type whenFlags struct{ since, until *string }

func (w whenFlags) parse() (since, until time.Time, err error) {
	now := time.Now()
	if *w.since != "" {
		if since, err = audit.ParseWhen(*w.since, now, false); err != nil {
			return since, until, usagef("--since: %v", err)
		}
	}
	if *w.until != "" {
		if until, err = audit.ParseWhen(*w.until, now, true); err != nil {
			return since, until, usagef("--until: %v", err)
		}
	}
	if !since.IsZero() && !until.IsZero() && !since.Before(until) {
		return since, until, usagef("--since %s is not before --until %s", *w.since, *w.until)
	}
	return since, until, nil
}

func (f *flags) when() whenFlags {
	return whenFlags{
		since: f.String("since", "", "records at or after: RFC 3339, a date (2026-11-01) or an age (36h, 7d)"),
		until: f.String("until", "", "records before: RFC 3339, a date (that whole day included) or an age"),
	}
}

// asOfFlag is --as-of: the moment at which what was awaited or overdue is
// judged.
type asOfFlag struct{ s *string }

func (f *flags) asOf() asOfFlag {
	return asOfFlag{f.String("as-of", "", "judge what was awaited or overdue as of this time: only records before it count,\n"+
		"dues are measured at it (RFC 3339, a date (that whole day included) or an age; default: now)")}
}

// parse returns the --as-of time, or the zero time when it was not given.
func (a asOfFlag) parse() (time.Time, error) {
	if *a.s == "" {
		return time.Time{}, nil
	}
	t, err := audit.ParseWhen(*a.s, time.Now(), true)
	if err != nil {
		return t, usagef("--as-of: %v", err)
	}
	return t, nil
}

// nowOr is t, or the current time when t is zero.
func nowOr(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

var auditVerifyCommand = &command{
	name:     "audit verify",
	summary:  "check the hash chain (and that it holds a checkpoint's head)",
	synopsis: "audit verify [--dir FOLDER] [--checkpoint FILE [--key FILE [--fingerprint FP]]]",
	examples: "  sealpost audit verify\n" +
		"  sealpost audit verify --dir /mnt/copy-of-audit   # a copy, without a configuration\n" +
		"  sealpost audit verify --checkpoint checkpoint-20261127T020000Z-000000001234.asc\n" +
		"  sealpost audit verify --dir audit --checkpoint cp.asc --key us-cbp.public.asc --fingerprint 1234...",
	run: cmdAuditVerify,
}

func cmdAuditVerify(_ context.Context, e *env, args []string) error {
	fs := e.newFlags()
	dir := fs.String("dir", "", "the audit folder to check (default: state_dir/audit of the configuration)")
	cp := fs.String("checkpoint", "", "also check this signed checkpoint and that the log still holds its head")
	key := fs.String("key", "", "with --checkpoint: the signer's public key file (default: our key from the configuration)")
	fp := fs.String("fingerprint", "", "with --key: the fingerprint the key must have (default: every key in the file)")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if (*key != "" || *fp != "") && *cp == "" || *fp != "" && *key == "" {
		return usagef("--key goes with --checkpoint, and --fingerprint with --key")
	}
	src, err := e.auditSource(*dir)
	if err != nil {
		return err
	}
	if *cp != "" {
		return verifyCheckpoint(e, src, *cp, *key, *fp)
	}
	sum, err := audit.Verify(src.dir)
	if err != nil {
		return &failedError{fmt.Sprintf("exchange log in %s does not verify: %v", src.dir, err)}
	}
	fmt.Fprintf(e.stdout, "exchange log OK: %d records in %d file(s), head seq %d sha256 %s\n",
		sum.Records, len(sum.Files), sum.HeadSeq, sum.HeadSHA256)
	return nil
}

// verifyCheckpoint checks a signed checkpoint against the log (the chain
// up to its head included).
func verifyCheckpoint(e *env, src auditSource, path, keyFile, fp string) error {
	signer, party, err := checkpointSigner(src, keyFile, fp)
	if err != nil {
		return err
	}
	signed, err := os.ReadFile(path)
	if err != nil {
		return &failedError{fmt.Sprintf("read checkpoint %s: %v", path, errors.Unwrap(err))}
	}
	c, err := exchange.VerifyCheckpoint(src.dir, signed, signer, party)
	if err != nil {
		return &failedError{fmt.Sprintf("checkpoint %s: %v", path, err)}
	}
	fmt.Fprintf(e.stdout, "checkpoint OK: %s (party %s, %s) is signed by %s, and the exchange log in %s holds its head seq %d sha256 %s with the chain up to it whole\n",
		path, c.Party, c.Time, strings.Join(signer.Fingerprints(), ", "), src.dir, c.Seq, c.SHA256)
	return nil
}

// checkpointSigner loads the key a checkpoint must be signed by: --key
// (pinned to --fingerprint, or to every key in it), else our own key from
// the configuration, whose party the checkpoint must then be.
func checkpointSigner(src auditSource, keyFile, fp string) (*crypto.Peer, string, error) {
	if keyFile != "" {
		pins := []string{fp}
		if fp == "" {
			var err error
			if pins, err = keyFingerprints(keyFile); err != nil {
				return nil, "", err
			}
		}
		p, err := crypto.LoadPeer(keyFile, pins)
		if err != nil {
			return nil, "", usagef("--key %s: %w", keyFile, err)
		}
		return p, "", nil
	}
	if src.cfg == nil {
		return nil, "", usagef("--checkpoint without a configuration needs --key (our public key file)")
	}
	keys, err := exchange.LoadKeys(src.cfg)
	if err != nil {
		return nil, "", err
	}
	return keys.Self().Public(), src.cfg.Identity.ID, nil
}

// keyFingerprints lists the primary fingerprints of the keys in a file.
func keyFingerprints(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usagef("--key: %w", err)
	}
	defer f.Close()
	infos, err := crypto.Inspect(f)
	if err != nil || len(infos) == 0 {
		return nil, usagef("--key %s holds no OpenPGP key (%v)", path, err)
	}
	var fps []string
	for _, k := range infos {
		fps = append(fps, k.Fingerprint)
	}
	return fps, nil
}
