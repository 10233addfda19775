package testworld

import (
	"testing"
	"time"
)

// pollEvery is how often WaitFor checks its condition: often enough to
// catch a short state (an upload in flight) and cheap for the conditions
// the tests poll.
const pollEvery = 5 * time.Millisecond

// WaitFor polls cond until it holds, failing the test when timeout passes
// first; what names the awaited state in the failure, and detail (when not
// nil) adds what the test knows at that moment (a daemon's log, say).
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool, detail ...func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			msg := ""
			for _, d := range detail {
				msg += "\n" + d()
			}
			t.Fatalf("%s: not within %v%s", what, timeout, msg)
		}
		time.Sleep(pollEvery)
	}
}
