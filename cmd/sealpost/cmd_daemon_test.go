package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/testworld"
)

// TestDaemonMetrics runs the daemon binary with metrics.listen on a free
// loopback port, lets it pull a partner's bundle on its schedule, scrapes
// /metrics over HTTP, and stops it with SIGTERM (exit 0).
func TestDaemonMetrics(t *testing.T) {
	w := newCLIWorld(t, "    schedule:\n      pull: \"@every 1s\"\n")
	p := w.parties[us]
	data, err := os.ReadFile(p.cfgPath)
	must(t, err)
	must(t, os.WriteFile(p.cfgPath, []byte(strings.Replace(string(data), "state_dir: state\n",
		"state_dir: state\nmetrics:\n  listen: 127.0.0.1:0\n", 1)), 0o600))
	file := writeFile(t, t.TempDir(), "request.pdf", "a request")
	w.parties[uk].cli(t, "send", "--to", us, "--ref", "CASE-9", file).want(t, 0)
	w.parties[uk].cli(t, "run").want(t, 0)

	cmd := exec.Command(binary, "--config", p.cfgPath, "--log-format", "json", "daemon")
	stderr, err := cmd.StderrPipe()
	must(t, err)
	must(t, cmd.Start())
	defer cmd.Process.Kill()
	urls := make(chan string, 1)
	var logged strings.Builder
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		re := regexp.MustCompile(`"url":"(http://127\.0\.0\.1:\d+/metrics)"`)
		for sc.Scan() {
			logged.WriteString(sc.Text() + "\n")
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				urls <- m[1]
			}
		}
	}()
	var url string
	select {
	case url = <-urls:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-logDone
		t.Fatalf("the daemon logged no metrics url:\n%s", logged.String())
	}
	want := `sealpost_bundles_filed_total{kind="request",partner="uk-hmrc"} 1`
	// The pull is over when it is filed and its success recorded: a scrape
	// may fall between the two.
	pulled := `sealpost_last_pull_success_timestamp_seconds{partner="uk-hmrc"} 1`
	var page string
	testworld.WaitFor(t, 30*time.Second, fmt.Sprintf("%q and %q after a scheduled pull", want, pulled),
		func() bool {
			page = get(t, url)
			return strings.Contains(page, want+"\n") && strings.Contains(page, pulled)
		},
		func() string { return page })
	for _, s := range []string{"sealpost_last_pull_success_timestamp_seconds{partner=\"uk-hmrc\"} 1", "sealpost_queue_items{", "go_goroutines"} {
		if !strings.Contains(page, s) {
			t.Fatalf("no %q in the scrape:\n%s", s, page)
		}
	}
	must(t, cmd.Process.Signal(syscall.SIGTERM))
	<-logDone
	if err := cmd.Wait(); err != nil {
		t.Fatalf("daemon after SIGTERM: %v\n%s", err, logged.String())
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	must(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	must(t, err)
	return string(body)
}
