package main

import (
	"fmt"

	"github.com/sealpost/sealpost/exchange"
)

// runOptions builds the engine's options from run's flags.
func runOptions(partner string, pushOnly, pullOnly bool) exchange.RunOptions {
	return exchange.RunOptions{Partner: partner, PushOnly: pushOnly, PullOnly: pullOnly}
}

// refusedAny reports whether any partner's run refused a bundle or failed
// an outbox item (exit 1: the run worked but something needs a look).
func refusedAny(results []exchange.Result) bool {
	for _, r := range results {
		if r.Refused > 0 || r.Failed > 0 {
			return true
		}
	}
	return false
}

// joinPaths lists PATHs for a message.
func joinPaths(paths []string) string {
	if len(paths) == 1 {
		return paths[0]
	}
	return fmt.Sprintf("%s and %d more", paths[0], len(paths)-1)
}
