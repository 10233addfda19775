package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestProgressBar(t *testing.T) {
	var out bytes.Buffer
	b := newProgressBar(&out)
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b.now = func() time.Time { return clock }

	task := b.Start("push uk-hmrc_us-cbp_request_x.pgp", 100<<20)
	task.Write(make([]byte, 1<<20))
	if out.Len() != 0 {
		t.Fatalf("drawn before a second has passed: %q", out.String())
	}
	clock = clock.Add(2 * time.Second)
	task.Write(make([]byte, 19<<20)) // 20 MiB in 2 s: 10 MiB/s, 80 MiB left: 0:08
	line := out.String()
	for _, s := range []string{"\r\033[K", "push uk-hmrc_us-cbp_request_x.pgp", "20.0 MiB / 100.0 MiB (20%)", "10.0 MiB/s", "0:08 left"} {
		if !strings.Contains(line, s) {
			t.Fatalf("no %q in %q", s, line)
		}
	}

	// Redraws are rate-limited.
	out.Reset()
	task.Write(make([]byte, 1))
	if out.Len() != 0 {
		t.Fatalf("redrawn at once: %q", out.String())
	}

	// A log line clears the status line first.
	out.Reset()
	b.Write([]byte("time=... level=INFO msg=hello\n"))
	if got := out.String(); got != "\r\033[Ktime=... level=INFO msg=hello\n" {
		t.Fatalf("log line written as %q", got)
	}

	// Done clears the line.
	clock = clock.Add(time.Second)
	task.Write(nil)
	out.Reset()
	task.Done()
	if got := out.String(); got != "\r\033[K" {
		t.Fatalf("Done wrote %q, want the line cleared", got)
	}
}

func TestProgressFormat(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 5 << 30: "5.0 GiB"} {
		if got := size(n); got != want {
			t.Errorf("size(%d) = %q, want %q", n, got, want)
		}
	}
	for d, want := range map[time.Duration]string{8 * time.Second: "0:08", 125 * time.Second: "2:05", 3723 * time.Second: "1:02:03"} {
		if got := clock(d); got != want {
			t.Errorf("clock(%s) = %q, want %q", d, got, want)
		}
	}
}

// TestProgressQuietOffTerminal: with stderr not a terminal (a pipe or a
// file, as under cron or systemd), no progress is set up at all.
func TestProgressQuietOffTerminal(t *testing.T) {
	var buf bytes.Buffer
	e := &env{stderr: &buf}
	if e.progress() != nil {
		t.Fatal("progress on a buffer")
	}
	if isTerminal(&buf) {
		t.Fatal("a buffer is a terminal")
	}
}
