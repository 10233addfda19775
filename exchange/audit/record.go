// Package audit keeps sealpost's exchange log: a tamper-evident, append-only
// file of JSON lines in which every line names the SHA-256 of the line before
// it (SPEC §6). Several processes may append to the same log at once.
package audit

import (
	"errors"
	"strings"
	"time"
)

// Event names written to the log.
const (
	EvQueued      = "bundle.queued"     // an item was queued for sending (send)
	EvClaimed     = "bundle.claimed"    // an outbox item (file) was claimed to become bundle (bundle)
	EvSealed      = "bundle.sealed"     // a bundle was signed, encrypted and kept in sent/
	EvUploaded    = "bundle.uploaded"   // a bundle is completely on the partner's drop
	EvDownloaded  = "bundle.downloaded" // a partner's file is durably on local disk
	EvFiled       = "bundle.filed"      // an incoming bundle was filed in the inbox
	EvRejected    = "bundle.rejected"   // an incoming file was refused and quarantined
	EvFailed      = "bundle.failed"     // an outbox item can never be sent (moved to failed/)
	EvReceiptSent = "receipt.sent"      // our receipt for a partner's bundle was uploaded
	EvReceipt     = "receipt.received"  // a partner's receipt for one of our bundles was read
	EvRunStarted  = "run.started"       // an exchange cycle began
	EvRunFinished = "run.finished"      // an exchange cycle ended
	EvRepaired    = "log.repaired"      // a torn last line left by a crash was cut off
	EvCheckpoint  = "log.checkpoint"    // a signed statement of the log's head was written
)

// Outcome values.
const (
	OutcomeOK       = "ok"
	OutcomeError    = "error"
	OutcomeRejected = "rejected"
)

// FileName is the name of the current log file in the audit folder.
const FileName = "exchange.jsonl"

// ZeroHash is the prev of the first line of a log.
const ZeroHash = "0000000000000000000000000000000000000000000000000000000000000000"

// MaxLine is the longest line (without its newline) the log accepts.
const MaxLine = 1 << 20

// TimeLayout is how Append writes a record's time: RFC 3339, UTC, milliseconds.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// ErrInvalidRecord is returned by Append for a record that would not verify.
var ErrInvalidRecord = errors.New("invalid audit record")

// ErrCorrupt is wrapped by errors about a log whose lines do not parse or chain.
var ErrCorrupt = errors.New("exchange log is corrupt")

// ErrHeadMismatch is wrapped by VerifyHead when the log does not hold the given head.
var ErrHeadMismatch = errors.New("exchange log does not hold the checkpoint's head")

// ErrClosed is returned by methods of a closed Log.
var ErrClosed = errors.New("exchange log is closed")

// Record is one line of the exchange log. The JSON field order is the
// struct order: seq, time, event, outcome, prev, then the rest.
type Record struct {
	Seq         int64    `json:"seq"`
	Time        string   `json:"time"`
	Event       string   `json:"event"`
	Outcome     string   `json:"outcome"`
	Prev        string   `json:"prev"`
	Partner     string   `json:"partner,omitempty"`
	Bundle      string   `json:"bundle,omitempty"`
	Kind        string   `json:"kind,omitempty"`
	File        string   `json:"file,omitempty"`
	Bytes       int64    `json:"bytes,omitempty"`
	SHA256      string   `json:"sha256,omitempty"`
	Error       string   `json:"error,omitempty"`
	Code        string   `json:"code,omitempty"`
	InReplyTo   string   `json:"in_reply_to,omitempty"`
	Reference   string   `json:"reference,omitempty"`
	Self        string   `json:"self,omitempty"`
	Host        string   `json:"host,omitempty"`
	HostKey     string   `json:"host_key,omitempty"`
	User        string   `json:"user,omitempty"`
	PeerLogHead *LogHead `json:"peer_log_head,omitempty"`
	Detail      string   `json:"detail,omitempty"`
}

// LogHead is the head of a (partner's) exchange log: the seq of its last
// line and that line's SHA-256.
type LogHead struct {
	Seq    int64  `json:"seq"`
	SHA256 string `json:"sha256"`
}

// validOutcome reports whether s is one of the outcome values.
func validOutcome(s string) bool {
	return s == OutcomeOK || s == OutcomeError || s == OutcomeRejected
}

// validTime reports whether s is an RFC 3339 time in UTC ("Z").
func validTime(s string) bool {
	if !strings.HasSuffix(s, "Z") {
		return false
	}
	_, err := time.Parse(time.RFC3339Nano, s)
	return err == nil
}
