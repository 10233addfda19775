package main

import (
	"strings"
	"testing"
)

// TestHelpExamples: every command (and subcommand) answers --help with
// exit 0 and examples.
func TestHelpExamples(t *testing.T) {
	lines := [][]string{{"--help"}, {"keys", "--help"}, {"bundle", "--help"}, {"audit", "verify", "--help"},
		{"keys", "generate", "--help"}, {"keys", "inspect", "--help"}, {"bundle", "seal", "--help"}, {"bundle", "open", "--help"}}
	for _, c := range commands() {
		if c.name != "audit" && c.name != "keys" && c.name != "bundle" {
			lines = append(lines, []string{c.name, "--help"})
		}
	}
	for _, args := range lines {
		r := sealpost(t, args...)
		if r.code != 0 || !strings.Contains(r.stdout+r.stderr, "examples:") {
			t.Errorf("sealpost %s: want exit 0 and examples, got %s", strings.Join(args, " "), r)
		}
	}
}
