package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestInterrupted: send, bundle seal and bundle open stop when the root
// context is cancelled (SIGINT or SIGTERM in main), exit 1 saying so, and
// leave nothing half made: no outbox item, no bundle file, an empty output
// folder.
func TestInterrupted(t *testing.T) {
	w := newCLIWorld(t, "")
	src := t.TempDir()
	a := writeFile(t, src, "a.txt", strings.Repeat("payload ", 1<<14))
	sealed := filepath.Join(t.TempDir(), "a.pgp")
	w.parties[us].cli(t, "bundle", "seal", "--to", uk, "-o", sealed, a).want(t, 0)

	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	interrupted := func(p *party, args ...string) result {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code := run(cancelled, append([]string{"--config", p.cfgPath}, args...), &stdout, &stderr)
		return result{code, stdout.String(), stderr.String()}
	}

	interrupted(w.parties[us], "send", "--to", uk, a).wantError(t, 1, "interrupted", "nothing was queued")
	if got := names(t, w.parties[us].state("outbox", uk)); len(got) != 0 {
		t.Fatalf("outbox holds %v after an interrupted send", got)
	}
	out := filepath.Join(t.TempDir(), "b.pgp")
	interrupted(w.parties[us], "bundle", "seal", "--to", uk, "-o", out, a).wantError(t, 1, "interrupted", "no bundle file was written")
	if got := names(t, filepath.Dir(out)); len(got) != 0 {
		t.Fatalf("%v left after an interrupted seal", got)
	}
	dst := filepath.Join(t.TempDir(), "opened")
	interrupted(w.parties[uk], "bundle", "open", "--from", us, "-o", dst, sealed).wantError(t, 1, "interrupted", "was left empty")
	if got := names(t, dst); len(got) != 0 {
		t.Fatalf("%v left after an interrupted open", got)
	}
}
