// Package config reads sealpost's YAML configuration (SPEC §5): it decodes
// strictly, reports every fault with the file, line and key at fault, resolves
// relative paths against the file's folder, applies defaults and checks the
// files the configuration names.
package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ErrUnknownPartner is returned by Config.Partner for an id not configured.
var ErrUnknownPartner = errors.New("unknown partner")

// Error names the file, line and key at fault, e.g.
// "sealpost.yaml:12: partners.uk-hmrc.sftp.known_hosts: file keys/kh does not exist".
// Line is 0 when the fault has no line (an unreadable or empty file).
type Error struct {
	File string
	Line int
	Key  string
	Err  error
}

// Error returns "file:line: key: reason", leaving out the parts that are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Key != "" {
		b.WriteString(": " + e.Key)
	}
	b.WriteString(": " + e.Err.Error())
	return b.String()
}

// Unwrap returns the underlying reason.
func (e *Error) Unwrap() error { return e.Err }

// Config is a loaded and validated configuration.
type Config struct {
	File     string // absolute path of the file loaded
	Identity Identity
	StateDir string // absolute
	Metrics  Metrics
	Audit    Audit
	Partners map[string]*Partner
}

// PartnerIDs returns the configured partner ids, sorted.
func (c *Config) PartnerIDs() []string {
	ids := make([]string, 0, len(c.Partners))
	for id := range c.Partners {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Partner returns the partner with the given id, or an error wrapping
// ErrUnknownPartner that lists the known ones.
func (c *Config) Partner(id string) (*Partner, error) {
	if p, ok := c.Partners[id]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownPartner, id, strings.Join(c.PartnerIDs(), ", "))
}

// Identity is our own party: its id and OpenPGP secret key.
type Identity struct {
	ID             string // party id
	PrivateKey     string // absolute path of the armoured OpenPGP secret key; not group/world readable
	PassphraseFile string // absolute path, or "" ; not group/world readable
	PassphraseEnv  string // name of an environment variable, or ""
}

// Metrics configures the optional Prometheus endpoint.
type Metrics struct {
	Listen string // host:port; "" = off
}

// Partner is one party we exchange bundles with.
type Partner struct {
	ID           string
	PublicKey    string   // absolute path of the partner's OpenPGP public key(s)
	Fingerprints []string // lowercase hex without spaces, 40 or 64 digits each
	SFTP         SFTP     // the partner hosts the drop; unused when Local is set
	Local        *Local   // we host the drop on this machine; nil when it is reached over SFTP
	Schedule     Schedule
	PGP          PGP
	Limits       Limits
	Settle       time.Duration // default 30s
	PullSettle   time.Duration // a drop file unchanged this long is taken; default 10s, 0 = at once
	RunDeadline  time.Duration // longest one run for the partner may take; default 6h
	ReceiptDue   time.Duration // default 24h
	// NoReceipts is `receipts: none`: the partner sends no receipts (a
	// partner without sealpost, say), so nothing sent to it awaits one and
	// receipt_due is not used; a receipt that does arrive is still recorded.
	// The default, `receipts: expected`, leaves it false.
	NoReceipts  bool
	ResponseDue time.Duration // default 720h
}

// SFTP is where a partner's drop is and how to reach it.
type SFTP struct {
	Address    string        // host:port (port 22 when the file gives none)
	User       string        // login name
	PrivateKey string        // absolute path of the OpenSSH private key; not group/world readable
	KnownHosts string        // absolute path; required, exists
	PushDir    string        // remote folder our bundles go to
	PullDir    string        // remote folder the partner's bundles wait in
	AfterPull  string        // "delete" (default) or "move"
	MoveDir    string        // remote folder when AfterPull is "move"
	Timeout    time.Duration // dial, handshake and each operation; default 30s
	// DownloadDeadline bounds one download as a whole; default 1h.
	DownloadDeadline time.Duration
}

// Local is a partner's drop hosted on this machine: folders the partner
// reaches through our sshd, which sealpost reads and writes directly.
type Local struct {
	Root      string // absolute folder holding the drop's folders; every folder below lies inside it
	PushDir   string // folder our bundles go to, slash-separated, relative to Root ("." for Root)
	PullDir   string // folder the partner's bundles wait in, relative to Root
	AfterPull string // "delete" (default) or "move"
	MoveDir   string // folder relative to Root when AfterPull is "move"
}

// Folders are a partner's drop folders as its transport takes them,
// whichever transport that is.
type Folders struct {
	PushDir   string // our bundles go here
	PullDir   string // the partner's bundles wait here
	AfterPull string // "delete" or "move"
	MoveDir   string // when AfterPull is "move"
}

// Folders returns the drop folders of the partner's transport: the local
// ones (relative to Local.Root) when Local is set, else the SFTP ones.
func (p *Partner) Folders() Folders {
	if p.Local != nil {
		return Folders{PushDir: p.Local.PushDir, PullDir: p.Local.PullDir, AfterPull: p.Local.AfterPull, MoveDir: p.Local.MoveDir}
	}
	return Folders{PushDir: p.SFTP.PushDir, PullDir: p.SFTP.PullDir, AfterPull: p.SFTP.AfterPull, MoveDir: p.SFTP.MoveDir}
}

// Schedule holds cron specs as written; "" means not scheduled.
type Schedule struct {
	Push, Pull string
}

// PGP holds the per-partner OpenPGP choices.
type PGP struct {
	Profile     string // "auto" (default), "rfc4880" or "rfc9580"
	Compression string // "none" (default) or "zlib"
	Armor       bool   // ASCII-armoured .asc files
}

// Limits bound what we accept from a partner in one bundle.
type Limits struct {
	MaxBytes int64 // decrypted tar stream; default 10GiB
	MaxFiles int   // payload files; default 10000
	// MaxRefused is how many files whose names are not the partner's
	// bundle names one run may refuse; the rest wait. Default 100.
	MaxRefused int
	// QuarantineFiles and QuarantineSize bound the refused files kept in
	// quarantine/<partner>; past them a refused file is logged, not kept.
	// Defaults 1000 and 20GiB.
	QuarantineFiles int
	QuarantineSize  int64
}
