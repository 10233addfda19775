package audit

import (
	"encoding/json"
	"fmt"
	"regexp"
	"time"
)

// CheckpointFormat is the format member of a checkpoint statement.
const CheckpointFormat = "sealpost-checkpoint/1"

// Checkpoint is the statement `audit checkpoint` signs: the head of a
// party's exchange log at a time. Kept outside the party's disk, it shows
// that a later log still holds that head (VerifyHead), which a bare hash
// chain cannot show about its own tail.
type Checkpoint struct {
	Format string `json:"format"`
	Party  string `json:"party"`  // the party whose log this is
	Seq    int64  `json:"seq"`    // seq of the log's last line (0: empty log)
	SHA256 string `json:"sha256"` // SHA-256 of that line (ZeroHash: empty log)
	Time   string `json:"time"`   // when the head was read, RFC 3339 UTC
}

var hexSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// NewCheckpoint returns the statement of head seq, sum of party's log at t.
func NewCheckpoint(party string, seq int64, sum string, t time.Time) Checkpoint {
	return Checkpoint{Format: CheckpointFormat, Party: party, Seq: seq, SHA256: sum, Time: t.UTC().Format(time.RFC3339)}
}

// Text renders the statement as indented JSON ending in a newline, the text
// that is signed.
func (c Checkpoint) Text() []byte {
	b, _ := json.MarshalIndent(c, "", "  ")
	return append(b, '\n')
}

// ParseCheckpoint reads a statement's text and checks its members.
func ParseCheckpoint(text []byte) (Checkpoint, error) {
	var c Checkpoint
	if err := json.Unmarshal(text, &c); err != nil {
		return c, fmt.Errorf("checkpoint statement is not JSON: %w", err)
	}
	switch {
	case c.Format != CheckpointFormat:
		return c, fmt.Errorf("checkpoint statement has format %q, not %q", c.Format, CheckpointFormat)
	case c.Seq < 0:
		return c, fmt.Errorf("checkpoint statement has a negative seq %d", c.Seq)
	case !hexSHA256.MatchString(c.SHA256):
		return c, fmt.Errorf("checkpoint statement's sha256 %q is not 64 lowercase hex digits", c.SHA256)
	case !validTime(c.Time):
		return c, fmt.Errorf("checkpoint statement's time %q is not RFC 3339 UTC", c.Time)
	case c.Party == "":
		return c, fmt.Errorf("checkpoint statement names no party")
	}
	return c, nil
}
