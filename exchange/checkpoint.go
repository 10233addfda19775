package exchange

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/crypto"
	"github.com/sealpost/sealpost/exchange/audit"
	"github.com/sealpost/sealpost/internal/fsx"
)

// ErrBadCheckpoint is wrapped by VerifyCheckpoint when a checkpoint's
// signature or statement does not check.
var ErrBadCheckpoint = errors.New("checkpoint does not check")

// SignedCheckpoint is a checkpoint Engine.Checkpoint made.
type SignedCheckpoint struct {
	Statement audit.Checkpoint // what was signed
	Signed    []byte           // the OpenPGP cleartext-signed statement
	Path      string           // where it was written ("-": nowhere)
}

// Checkpoint signs a statement of the exchange log's head with our key (an
// OpenPGP cleartext signature that `gpg --verify FILE` checks), writes it to
// path (default: audit.checkpoint_dir/checkpoint-<time>-<seq>.asc; "-":
// nowhere, the caller prints it) and records a log.checkpoint event.
func (e *Engine) Checkpoint(path string) (SignedCheckpoint, error) {
	seq, head, err := e.log.Head()
	if err != nil {
		return SignedCheckpoint{}, err
	}
	now := e.now().UTC()
	c := audit.NewCheckpoint(e.cfg.Identity.ID, seq, head, now)
	var signed bytes.Buffer
	if err := crypto.ClearSign(&signed, e.keys.self, c.Text()); err != nil {
		return SignedCheckpoint{}, err
	}
	if path == "" {
		dir := e.cfg.Audit.CheckpointDir
		if err := fsx.MkdirAll(dir, 0o700); err != nil {
			return SignedCheckpoint{}, fmt.Errorf("create checkpoint folder %s: %w", dir, err)
		}
		path = filepath.Join(dir, fmt.Sprintf("checkpoint-%s-%012d.asc", now.Format("20060102T150405Z"), seq))
	}
	if path != "-" {
		if err := fsx.WriteFile(path, signed.Bytes(), 0o644); err != nil {
			return SignedCheckpoint{}, fmt.Errorf("write checkpoint %s: %w", path, err)
		}
	}
	sum := sha256.Sum256(signed.Bytes())
	rec := audit.Record{Event: audit.EvCheckpoint, Outcome: audit.OutcomeOK, Self: e.cfg.Identity.ID,
		File: filepath.Base(path), Bytes: int64(signed.Len()), SHA256: hex.EncodeToString(sum[:]),
		Detail: fmt.Sprintf("signed head seq %d sha256 %s with key %s", seq, head, e.keys.self.Fingerprint())}
	if path == "-" {
		rec.File = ""
	}
	if _, err := e.log.Append(rec); err != nil {
		return SignedCheckpoint{}, err
	}
	return SignedCheckpoint{Statement: c, Signed: signed.Bytes(), Path: path}, nil
}

// VerifyCheckpoint checks a signed checkpoint: its signature by one of
// signer's keys, its statement, that it is party's (when party is not ""),
// and that the log in dir still holds its head with the chain up to it
// whole. A bad signature or statement wraps ErrBadCheckpoint; a log without
// that head wraps audit.ErrHeadMismatch; a broken chain is an
// *audit.VerifyError.
func VerifyCheckpoint(dir string, signed []byte, signer *crypto.Peer, party string) (audit.Checkpoint, error) {
	text, fp, err := crypto.VerifyClearSigned(signed, signer)
	if err != nil {
		return audit.Checkpoint{}, fmt.Errorf("%w: signature: %w", ErrBadCheckpoint, err)
	}
	c, err := audit.ParseCheckpoint(text)
	if err != nil {
		return c, fmt.Errorf("%w: %w", ErrBadCheckpoint, err)
	}
	if party != "" && c.Party != party {
		return c, fmt.Errorf("%w: it is party %s's checkpoint, not %s's (signed by %s)", ErrBadCheckpoint, c.Party, party, fp)
	}
	return c, audit.VerifyHead(dir, c.Seq, c.SHA256)
}

// logOptions are the exchange log's rotation options from the audit
// section of the configuration.
func logOptions(a config.Audit) audit.Options {
	return audit.Options{Monthly: a.Rotate != "none", MaxBytes: a.MaxFileBytes}
}
