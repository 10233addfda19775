package sftpdrop

import (
	"testing"

	"github.com/sealpost/sealpost/exchange/drop/droptest"
	"github.com/sealpost/sealpost/internal/sftpd"
)

// TestConformance runs the transport suite every transport passes, against
// the in-process server without posix-rename: with it, a commit replaces a
// file already under the final name (TestPosixRenameReplaces), which the
// suite's ExistingFinalName refuses.
func TestConformance(t *testing.T) {
	droptest.Run(t, func(t *testing.T) (droptest.Transport, string) {
		srv := startSftpd(t, sftpd.WithoutPosixRename())
		return dial(t, srv.cfg), srv.root
	})
}
