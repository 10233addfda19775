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
