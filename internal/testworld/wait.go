package testworld

import (
	"testing"
	"time"
)

// WaitFor checks its condition at once, then after pollFirst, and at
// intervals doubling up to pollMost: a short state (an upload in flight) is
// seen soon after it begins, and a long wait does not spin.
const (
	pollFirst = 5 * time.Millisecond
	pollMost  = 50 * time.Millisecond
)

// WaitFor polls cond until it holds, failing the test when timeout passes
// first; what names the awaited state in the failure, and detail (when not
// nil) adds what the test knows at that moment (a daemon's log, say).
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool, detail ...func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for every := pollFirst; !cond(); every = min(2*every, pollMost) {
		if time.Now().After(deadline) {
			msg := ""
			for _, d := range detail {
				msg += "\n" + d()
			}
			t.Fatalf("%s: not within %v%s", what, timeout, msg)
		}
		time.Sleep(every)
	}
}
