package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sealpost/sealpost/exchange"
)

// Progress on a terminal: one status line on stderr for the long work of
// send, run and bundle seal/open, redrawn a few times a second:
//
//	push uk-hmrc_us-cbp_request_0193….pgp   412.0 MiB / 1.2 GiB   96.4 MiB/s   0:08 left
//
// Nothing is drawn when stderr is not a terminal (a pipe, a file, the
// journal), nor for work shorter than a second.

const (
	progressDelay    = time.Second            // a task is drawn once it has run this long
	progressInterval = 200 * time.Millisecond // between redraws
	progressWidth    = 100                    // longest line drawn
)

// isTerminal reports whether w is a character device such as a terminal
// (and TERM does not say it is a dumb one).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progressBar draws the running tasks on out. Log lines written through
// it (Write) clear the status line first, so the two never mix.
type progressBar struct {
	out io.Writer
	now func() time.Time

	mu    sync.Mutex
	tasks []*progressTask
	shown bool      // a status line is on screen
	drawn time.Time // when it was last drawn
}

func newProgressBar(out io.Writer) *progressBar {
	return &progressBar{out: out, now: time.Now}
}

// progress returns the bar for the command's long work, or nil when
// stderr is not a terminal. The logger writes through it from then on.
func (e *env) progress() exchange.Progress {
	if e.bar == nil {
		if !isTerminal(e.stderr) {
			return nil
		}
		e.bar = newProgressBar(e.stderr)
	}
	return e.bar
}

// Start begins a task of about total bytes.
func (b *progressBar) Start(label string, total int64) exchange.Task {
	t := &progressTask{b: b, label: label, total: total, start: b.now()}
	b.mu.Lock()
	b.tasks = append(b.tasks, t)
	b.mu.Unlock()
	return t
}

// Write passes a log line through, clearing the status line before it.
func (b *progressBar) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.clear()
	return b.out.Write(p)
}

// clear removes the status line; mu is held.
func (b *progressBar) clear() {
	if b.shown {
		io.WriteString(b.out, "\r\033[K")
		b.shown = false
	}
}

// draw redraws the status line if it is time to; mu is held.
func (b *progressBar) draw(force bool) {
	now := b.now()
	if !force && b.shown && now.Sub(b.drawn) < progressInterval {
		return
	}
	var parts []string
	for _, t := range b.tasks {
		if now.Sub(t.start) >= progressDelay {
			parts = append(parts, t.line(now))
		}
	}
	if len(parts) == 0 {
		b.clear()
		return
	}
	line := strings.Join(parts, " | ")
	if r := []rune(line); len(r) > progressWidth {
		line = string(r[:progressWidth-1]) + "…"
	}
	fmt.Fprintf(b.out, "\r\033[K%s", line)
	b.shown, b.drawn = true, now
}

// progressTask is one task being counted.
type progressTask struct {
	b     *progressBar
	label string
	total int64
	start time.Time
	n     atomic.Int64
}

// Write counts p.
func (t *progressTask) Write(p []byte) (int, error) {
	t.n.Add(int64(len(p)))
	t.b.mu.Lock()
	t.b.draw(false)
	t.b.mu.Unlock()
	return len(p), nil
}

// Done ends the task and removes it from the line.
func (t *progressTask) Done() {
	b := t.b
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, x := range b.tasks {
		if x == t {
			b.tasks = append(b.tasks[:i], b.tasks[i+1:]...)
			break
		}
	}
	b.draw(true)
}

// line describes the task: label, bytes done (of total), rate, time left.
func (t *progressTask) line(now time.Time) string {
	n := t.n.Load()
	elapsed := now.Sub(t.start).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(n) / elapsed
	}
	label := []rune(t.label)
	if len(label) > 40 {
		label = append(label[:39], '…')
	}
	s := fmt.Sprintf("%-40s %9s", string(label), size(n))
	if t.total > 0 {
		s += " / " + size(t.total)
		if n < t.total {
			s += fmt.Sprintf(" (%d%%)", n*100/t.total)
		}
	}
	s += fmt.Sprintf("  %s/s", size(int64(rate)))
	if t.total > n && rate > 0 {
		s += "  " + clock(time.Duration(float64(t.total-n)/rate*float64(time.Second))) + " left"
	}
	return s
}

// size formats a byte count with a binary unit: 512 B, 3.4 KiB, 1.2 GiB.
func size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// clock formats a duration as h:mm:ss or m:ss.
func clock(d time.Duration) string {
	s := int64(d.Round(time.Second).Seconds())
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
