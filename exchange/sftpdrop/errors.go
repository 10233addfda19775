package sftpdrop

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/sealpost/sealpost/exchange/drop"
	"github.com/sealpost/sealpost/internal/safetext"
)

// Sentinel errors of the SFTP transport callers branch on; those every
// transport shares (ErrName, ErrSize, ErrChanged, ErrDeadline) are in
// package drop.
var (
	// ErrHostKey: the server's host key is unknown or does not match known_hosts. Never retried.
	ErrHostKey = drop.Permanent(errors.New("sftp host key not trusted"))
	// ErrAuth: the server refused our key. Never retried.
	ErrAuth = drop.Permanent(errors.New("sftp login refused"))
	// ErrConfig: the key file or known_hosts file cannot be used. Never retried.
	ErrConfig = drop.Permanent(errors.New("sftp configuration unusable"))
	// ErrTimeout: the server made no progress within Config.Timeout; the connection was closed.
	ErrTimeout = errors.New("sftp server stalled")
	// ErrClosed: the connection was closed by an earlier failure (wrapped
	// beside it). Retried on a new connection, whatever that failure was.
	ErrClosed = drop.Transient(errors.New("connection already closed"))
)

// maxServerText bounds the text of an error that quotes the server.
const maxServerText = 1024

// bounded is an error from the SFTP layer shown in at most maxServerText
// bytes (see safetext.Cut): a server's status message is its own free text,
// of any length up to a packet. errors.Is and errors.As still see err.
type bounded struct{ err error }

func (b bounded) Error() string { return safetext.Cut(b.err.Error(), maxServerText) }

// Unwrap returns the error shown.
func (b bounded) Unwrap() error { return b.err }

// HostKeyError explains a host key that known_hosts does not vouch for. It
// matches ErrHostKey with errors.Is.
type HostKeyError struct {
	Address    string        // address dialled, host:port
	KnownHosts string        // known_hosts file consulted
	Key        ssh.PublicKey // key the server offered; nil if it could not be obtained
	Want       []string      // key types known_hosts lists for the address; empty when the host is unknown
	Revoked    bool          // known_hosts marks Key as @revoked
	Err        error         // underlying knownhosts or handshake error
}

// Fingerprint returns the SHA256 fingerprint of the server's key ("" if unknown).
func (e *HostKeyError) Fingerprint() string {
	if e.Key == nil {
		return ""
	}
	return ssh.FingerprintSHA256(e.Key)
}

// Line returns the known_hosts line that would trust the server's key ("" if unknown).
func (e *HostKeyError) Line() string {
	if e.Key == nil {
		return ""
	}
	return knownhosts.Line([]string{e.Address}, e.Key)
}

// Error says what was offered, what known_hosts holds and how to fix it.
func (e *HostKeyError) Error() string {
	var b strings.Builder
	switch {
	case e.Revoked:
		fmt.Fprintf(&b, "host key of %s is marked @revoked in %s", e.Address, e.KnownHosts)
	case len(e.Want) == 0:
		fmt.Fprintf(&b, "host key of %s is not in known_hosts file %s", e.Address, e.KnownHosts)
	default:
		fmt.Fprintf(&b, "host key of %s does NOT match known_hosts file %s, which lists %s for it (possible man-in-the-middle attack)",
			e.Address, e.KnownHosts, strings.Join(e.Want, ", "))
	}
	if e.Key == nil {
		fmt.Fprintf(&b, "; the server's key could not be read (%v)", e.Err)
		return b.String()
	}
	fmt.Fprintf(&b, "; the server offered %s key %s", e.Key.Type(), e.Fingerprint())
	if !e.Revoked {
		fmt.Fprintf(&b, "; only if the partner confirms that fingerprint, add this line to %s: %s", e.KnownHosts, e.Line())
	}
	return b.String()
}

// Is reports whether target is ErrHostKey.
func (e *HostKeyError) Is(target error) bool { return target == ErrHostKey }

// Unwrap returns the underlying error.
func (e *HostKeyError) Unwrap() error { return e.Err }

// Permanent reports that a host key not trusted is never retried (see
// drop.IsPermanent).
func (e *HostKeyError) Permanent() bool { return true }

// markReply marks an SFTP status reply for the retry (see drop.IsPermanent
// and drop.IsAnswered): any reply but a lost connection leaves the
// connection working; permission denied and no such file are permanent.
// Other errors are returned as they are.
func markReply(err error) error {
	var se *sftp.StatusError
	if !errors.As(err, &se) {
		return err
	}
	switch se.FxCode() {
	case sftp.ErrSSHFxConnectionLost, sftp.ErrSSHFxNoConnection:
		return err
	case sftp.ErrSSHFxPermissionDenied, sftp.ErrSSHFxNoSuchFile:
		return drop.Permanent(drop.Answered(err))
	}
	return drop.Answered(err)
}
