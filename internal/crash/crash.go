//go:build !crashtest

// Package crash marks the points where the crash tests kill sealpost. In a
// normal build Point does nothing; built with the crashtest tag, the process
// kills itself with SIGKILL at the point named by $SEALPOST_CRASH_AT.
package crash

// Point marks a step boundary named name. It does nothing in normal builds.
func Point(name string) {}
