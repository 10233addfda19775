package exchange

import "time"

// Test hooks for the exchange_test package.

func init() {
	// Faults are retried at once in tests: the backoff's shape is not what
	// they check.
	retryBase = 10 * time.Millisecond
}

// EngineKeys returns the keys e runs with.
func EngineKeys(e *Engine) *Keys { return e.keys }

// SetClock makes e read the time from now (a clock jumping back, say).
func SetClock(e *Engine, now func() time.Time) { e.now = now }
