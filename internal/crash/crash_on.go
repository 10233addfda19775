//go:build crashtest

// Package crash marks the points where the crash tests kill sealpost. In a
// normal build Point does nothing; built with the crashtest tag, the process
// kills itself with SIGKILL at the point named by $SEALPOST_CRASH_AT.
package crash

import (
	"os"
	"syscall"
)

// Point kills the process with SIGKILL (as kill -9 would) when name equals
// $SEALPOST_CRASH_AT.
func Point(name string) {
	if os.Getenv("SEALPOST_CRASH_AT") == name {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
}
