// Package bundle implements the sealpost bundle (SPEC §2): the manifest, a
// one-pass tar writer and a tar reader that extracts into a staging folder.
//
// A bundle is an uncompressed POSIX tar stream: every payload file under
// payload/, and manifest.json, which Write puts last and Read accepts
// anywhere. A request or response carries at least one file; a receipt
// carries none.
package bundle

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/sealpost/sealpost/internal/safetext"
)

// Format is the value of the manifest's format member.
const Format = "sealpost-bundle/1"

// Bundle kinds.
const (
	KindRequest  = "request"
	KindResponse = "response"
	KindReceipt  = "receipt"
)

// Receipt statuses.
const (
	StatusFiled    = "filed"
	StatusRejected = "rejected"
)

// MaxManifestSize is the largest manifest.json accepted, in bytes.
const MaxManifestSize = 4 << 20

// Bounds on a manifest's free text, in bytes: a longer reference, receipt
// reason or receipt.for is refused (ErrManifest), so that what a partner
// writes stays small wherever it is logged, shown or answered.
const (
	MaxReference = 1024
	MaxReason    = 4096
	MaxFor       = 255
)

// maxErrText bounds the text of another package's error quoted in ours.
const maxErrText = 1024

// Sentinel errors callers branch on.
var (
	// ErrArchive: the tar stream holds something not allowed (SPEC code "archive").
	ErrArchive = errors.New("bundle archive refused")
	// ErrManifest: the manifest is invalid or does not match the payload (SPEC code "manifest").
	ErrManifest = errors.New("bundle manifest refused")
	// ErrLimits: the bundle exceeds the size or file-count limits (SPEC code "limits").
	ErrLimits = errors.New("bundle over limits")
	// ErrUnsafeSource: a source to send is a symbolic link, a special file,
	// or has a name a bundle cannot carry.
	ErrUnsafeSource = errors.New("unsafe source")
)

// receiptCodes are the SPEC §2 refusal codes a receipt may carry.
var receiptCodes = map[string]bool{
	"": true, "decrypt": true, "integrity": true, "unsigned": true,
	"unknown_signer": true, "archive": true, "manifest": true, "limits": true,
}

// Code returns the SPEC receipt code for an error from Read or ParseManifest
// ("archive", "manifest" or "limits"), or "" if none matches.
func Code(err error) string {
	switch {
	case errors.Is(err, ErrArchive):
		return "archive"
	case errors.Is(err, ErrManifest):
		return "manifest"
	case errors.Is(err, ErrLimits):
		return "limits"
	}
	return ""
}

// Manifest is manifest.json.
type Manifest struct {
	Format    string    `json:"format"`
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	Sender    string    `json:"sender"`
	Recipient string    `json:"recipient"`
	Created   time.Time `json:"created"`
	Reference string    `json:"reference"`
	InReplyTo string    `json:"in_reply_to"`
	Files     []File    `json:"files"`
	Receipt   *Receipt  `json:"receipt,omitempty"`
	LogHead   *LogHead  `json:"log_head,omitempty"`
}

// File is one payload file listed in the manifest.
type File struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Receipt is the receipt member of a receipt bundle's manifest.
type Receipt struct {
	For              string `json:"for"`
	CiphertextSHA256 string `json:"ciphertext_sha256"`
	Status           string `json:"status"`
	Code             string `json:"code"`
	Reason           string `json:"reason"`
}

// LogHead is the head of the sender's exchange log when the bundle was sealed.
type LogHead struct {
	Seq    int64  `json:"seq"`
	SHA256 string `json:"sha256"`
}

// NewManifest returns a manifest of the given kind with Format, a new ID,
// Created (now, UTC, whole seconds) and an empty file list filled in.
func NewManifest(kind, sender, recipient string, now time.Time) *Manifest {
	return &Manifest{
		Format:    Format,
		ID:        NewID(),
		Kind:      kind,
		Sender:    sender,
		Recipient: recipient,
		Created:   now.UTC().Truncate(time.Second),
		Files:     []File{},
	}
}

// ParseManifest strictly parses and validates manifest.json. Members it does
// not know are ignored; known members must be spelled exactly and appear at
// most once. Errors wrap ErrManifest, or ErrLimits when data is larger than
// MaxManifestSize.
func ParseManifest(data []byte) (*Manifest, error) {
	if len(data) > MaxManifestSize {
		return nil, fmt.Errorf("manifest.json is %d bytes, more than %d: %w", len(data), MaxManifestSize, ErrLimits)
	}
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("manifest.json is not valid UTF-8: %w", ErrManifest)
	}
	if err := checkMembers(data); err != nil {
		return nil, fmt.Errorf("manifest.json: %v: %w", err, ErrManifest)
	}
	var m Manifest
	if err := m.unmarshal(data); err != nil {
		return nil, fmt.Errorf("manifest.json: %v: %w", err, ErrManifest)
	}
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("manifest.json: %v: %w", err, ErrManifest)
	}
	return &m, nil
}

// unmarshal decodes data into m, parsing created as RFC 3339 with an error that names it.
func (m *Manifest) unmarshal(data []byte) error {
	type plain Manifest // without methods, so that Created below takes the member
	var wire struct {
		*plain
		Created string `json:"created"`
	}
	wire.plain = (*plain)(m)
	if err := json.Unmarshal(data, &wire); err != nil {
		return fmt.Errorf("does not parse: %s", safetext.Cut(err.Error(), maxErrText))
	}
	created, err := time.Parse(time.RFC3339, wire.Created)
	if err != nil {
		return fmt.Errorf("created %s is not an RFC 3339 time", safetext.Quote(wire.Created))
	}
	m.Created = created
	return nil
}

// validate checks every member of m.
func (m *Manifest) validate() error {
	if err := m.validateHeader(); err != nil {
		return err
	}
	return m.validateFiles()
}

// validateHeader checks every member of m except the file list.
func (m *Manifest) validateHeader() error {
	switch {
	case m.Format != Format:
		return fmt.Errorf("format %s is not %q", safetext.Quote(m.Format), Format)
	case !ValidID(m.ID):
		return fmt.Errorf("id %s is not a lowercase UUID", safetext.Quote(m.ID))
	case m.Kind != KindRequest && m.Kind != KindResponse && m.Kind != KindReceipt:
		return fmt.Errorf("kind %s is not request, response or receipt", safetext.Quote(m.Kind))
	case !ValidPartyID(m.Sender):
		return fmt.Errorf("sender %s is not a party id", safetext.Quote(m.Sender))
	case !ValidPartyID(m.Recipient):
		return fmt.Errorf("recipient %s is not a party id", safetext.Quote(m.Recipient))
	case m.Sender == m.Recipient:
		return fmt.Errorf("sender and recipient are both %q", m.Sender)
	case m.Created.IsZero():
		return errors.New("created is missing or zero")
	case m.InReplyTo != "" && !ValidID(m.InReplyTo):
		return fmt.Errorf("in_reply_to %s is not a lowercase UUID", safetext.Quote(m.InReplyTo))
	case m.Kind == KindResponse && m.InReplyTo == "":
		return errors.New("a response has no in_reply_to")
	case len(m.Reference) > MaxReference:
		return fmt.Errorf("reference is %d bytes, more than %d", len(m.Reference), MaxReference)
	case m.LogHead != nil && (m.LogHead.Seq < 0 || !validSHA256(m.LogHead.SHA256)):
		return fmt.Errorf("log_head {seq %d, sha256 %s} is not a log head", m.LogHead.Seq, safetext.Quote(m.LogHead.SHA256))
	}
	return m.validateReceipt()
}

// validateReceipt checks that the receipt member is present exactly for receipts, and well formed.
func (m *Manifest) validateReceipt() error {
	r := m.Receipt
	switch {
	case m.Kind != KindReceipt && r != nil:
		return fmt.Errorf("a %s has a receipt member", m.Kind)
	case m.Kind != KindReceipt:
		return nil
	case r == nil:
		return errors.New("a receipt has no receipt member")
	case r.For == "":
		return errors.New("receipt.for is empty")
	case len(r.For) > MaxFor:
		return fmt.Errorf("receipt.for is %d bytes, more than %d", len(r.For), MaxFor)
	case len(r.Reason) > MaxReason:
		return fmt.Errorf("receipt.reason is %d bytes, more than %d", len(r.Reason), MaxReason)
	case m.InReplyTo != "" && r.For != m.InReplyTo:
		return fmt.Errorf("receipt.for %s is not in_reply_to %q", safetext.Quote(r.For), m.InReplyTo)
	case !validSHA256(r.CiphertextSHA256):
		return fmt.Errorf("receipt.ciphertext_sha256 %s is not 64 lowercase hex digits", safetext.Quote(r.CiphertextSHA256))
	case r.Status != StatusFiled && r.Status != StatusRejected:
		return fmt.Errorf("receipt.status %s is not filed or rejected", safetext.Quote(r.Status))
	case !receiptCodes[r.Code]:
		return fmt.Errorf("receipt.code %s is not a known code", safetext.Quote(r.Code))
	case r.Status == StatusFiled && r.Code != "":
		return fmt.Errorf("receipt.code %q is set on a filed receipt", r.Code)
	}
	return nil
}

// validateFiles checks the file list: present, none for receipts, at least
// one otherwise, each path a clean payload/ path, no duplicates after folding.
func (m *Manifest) validateFiles() error {
	switch {
	case m.Files == nil:
		return errors.New("files is missing")
	case m.Kind == KindReceipt && len(m.Files) > 0:
		return fmt.Errorf("a receipt lists %d files", len(m.Files))
	case m.Kind != KindReceipt && len(m.Files) == 0:
		return fmt.Errorf("a %s lists no files", m.Kind)
	}
	seen := newNameSet()
	for i, f := range m.Files {
		if err := checkPayloadPath(f.Path); err != nil {
			return fmt.Errorf("files[%d].path %s %v", i, safetext.Quote(f.Path), err)
		}
		if err := seen.add(f.Path); err != nil {
			return fmt.Errorf("files[%d].path: %v", i, err)
		}
		if f.Size < 0 {
			return fmt.Errorf("files[%d].size %d is negative", i, f.Size)
		}
		if !validSHA256(f.SHA256) {
			return fmt.Errorf("files[%d].sha256 %s is not 64 lowercase hex digits", i, safetext.Quote(f.SHA256))
		}
	}
	return nil
}

// ValidPartyID reports whether s is a party id: [a-z0-9][a-z0-9-]{0,31}.
func ValidPartyID(s string) bool {
	if len(s) == 0 || len(s) > 32 || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isLowerHex(c) && !(c >= 'g' && c <= 'z') && c != '-' {
			return false
		}
	}
	return true
}

// validSHA256 reports whether s is 64 lowercase hex digits.
func validSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isLowerHex(s[i]) {
			return false
		}
	}
	return true
}

func isLowerHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f'
}
