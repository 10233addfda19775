package drop

import (
	"context"
	"errors"
	"io/fs"
)

// Sentinel errors shared by every transport.
var (
	// ErrName: a file name given to Create is not a safe final name. Never retried.
	ErrName = errors.New("unsafe drop file name")
	// ErrSize: the byte count transferred differs from the expected or remote size.
	ErrSize = errors.New("transfer size mismatch")
	// ErrChanged: a listed file changed (size, modification time, more
	// bytes than listed) before or while it was read: it is still being
	// written. Not retried within a run; the file is left for a later run.
	ErrChanged = errors.New("remote file changed since it was listed")
	// ErrDeadline: a download or a run took longer than its overall deadline.
	ErrDeadline = errors.New("transfer deadline passed")
)

// marked is an error a transport has classified for retrying; its text
// is the error's own.
type marked struct {
	err       error
	permanent bool
}

func (m *marked) Error() string { return m.err.Error() }

// Unwrap returns the error marked.
func (m *marked) Unwrap() error { return m.err }

// Permanent reports how the error was marked.
func (m *marked) Permanent() bool { return m.permanent }

// Permanent returns err marked as a failure no retry can cure, not even
// on a new connection (a refused login, an unusable configuration).
func Permanent(err error) error { return &marked{err: err, permanent: true} }

// Transient returns err marked as a failure that a retry on a new
// connection may cure, whatever err wraps (a connection closed by an
// earlier failure, which may have been a permanent one).
func Transient(err error) error { return &marked{err: err} }

// IsPermanent reports whether err must not be retried. The outermost
// error in err's chain with a method Permanent() bool decides (see
// Permanent and Transient); without one, ErrName, ErrChanged, ErrDeadline,
// fs.ErrPermission, fs.ErrNotExist and the end of a context are permanent
// and every other error is not.
func IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	var m interface{ Permanent() bool }
	if errors.As(err, &m) {
		return m.Permanent()
	}
	for _, target := range []error{
		ErrName, ErrChanged, ErrDeadline, fs.ErrPermission, fs.ErrNotExist,
		context.Canceled, context.DeadlineExceeded,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// answered is an error the far side gave in reply to one request.
type answered struct{ err error }

func (a *answered) Error() string { return a.err.Error() }

// Unwrap returns the reply.
func (a *answered) Unwrap() error { return a.err }

// Answered returns err marked as the far side's reply to one request (a
// refused rename, say): the connection still works, and a retry keeps it
// for whoever else uses it. Whether to retry at all is IsPermanent's call.
func Answered(err error) error { return &answered{err} }

// IsAnswered reports whether err, or an error it wraps, was marked with
// Answered. Any other failure may have broken the connection.
func IsAnswered(err error) bool {
	var a *answered
	return errors.As(err, &a)
}
