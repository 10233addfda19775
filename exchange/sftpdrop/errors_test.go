package sftpdrop

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"testing"

	"github.com/pkg/sftp"
)

func TestIsPermanent(t *testing.T) {
	t.Parallel()
	for err, want := range map[error]bool{
		nil:                          false,
		ErrTimeout:                   false,
		ErrSize:                      false,
		io.ErrUnexpectedEOF:          false,
		ErrHostKey:                   true,
		fmt.Errorf("x: %w", ErrAuth): true,
		ErrConfig:                    true,
		ErrName:                      true,
		fs.ErrNotExist:               true,
		fs.ErrPermission:             true,
		context.Canceled:             true,
		&sftp.StatusError{Code: uint32(sftp.ErrSSHFxPermissionDenied)}: true,
		&sftp.StatusError{Code: uint32(sftp.ErrSSHFxFailure)}:          false,
	} {
		if got := IsPermanent(err); got != want {
			t.Errorf("IsPermanent(%v) = %v, want %v", err, got, want)
		}
	}
}
