package sftpdrop

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"testing"

	"github.com/pkg/sftp"

	"github.com/sealpost/sealpost/exchange/drop"
)

// status is an SFTP status reply as do returns it.
func status(code uint32) error { return markReply(bounded{&sftp.StatusError{Code: code}}) }

func TestIsPermanent(t *testing.T) {
	t.Parallel()
	for err, want := range map[error]bool{
		nil:                          false,
		ErrTimeout:                   false,
		drop.ErrSize:                 false,
		io.ErrUnexpectedEOF:          false,
		ErrHostKey:                   true,
		&HostKeyError{Err: io.EOF}:   true,
		fmt.Errorf("x: %w", ErrAuth): true,
		ErrConfig:                    true,
		fmt.Errorf("known_hosts: %w: %w", ErrConfig, fs.ErrNotExist): true,
		drop.ErrName:     true,
		fs.ErrNotExist:   true,
		fs.ErrPermission: true,
		context.Canceled: true,
		fmt.Errorf("sftp list on h: %w: %w", ErrClosed, context.Canceled): false,
		status(uint32(sftp.ErrSSHFxPermissionDenied)):                     true,
		status(uint32(sftp.ErrSSHFxNoSuchFile)):                           true,
		status(uint32(sftp.ErrSSHFxFailure)):                              false,
		status(uint32(sftp.ErrSSHFxConnectionLost)):                       false,
	} {
		if got := drop.IsPermanent(err); got != want {
			t.Errorf("drop.IsPermanent(%v) = %v, want %v", err, got, want)
		}
	}
}

// TestRepliesKeepTheConnection: a status reply from the server leaves the
// connection working, a lost connection does not.
func TestRepliesKeepTheConnection(t *testing.T) {
	for err, want := range map[error]bool{
		status(uint32(sftp.ErrSSHFxFailure)):          true,
		status(uint32(sftp.ErrSSHFxPermissionDenied)): true,
		status(uint32(sftp.ErrSSHFxConnectionLost)):   false,
		status(uint32(sftp.ErrSSHFxNoConnection)):     false,
		markReply(io.ErrUnexpectedEOF):                false,
		ErrTimeout:                                    false,
	} {
		if got := drop.IsAnswered(err); got != want {
			t.Errorf("drop.IsAnswered(%v) = %v, want %v", err, got, want)
		}
	}
}
