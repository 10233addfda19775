package audit

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
)

// Environment of the helper process started by TestConcurrentProcesses.
const (
	helperDirEnv = "SEALPOST_AUDIT_HELPER_DIR"
	helperIDEnv  = "SEALPOST_AUDIT_HELPER_ID"
	helperNEnv   = "SEALPOST_AUDIT_HELPER_N"
)

// TestHelperProcess is not a test: it is the body of the subprocess that
// TestConcurrentProcesses starts to append to a log from another process.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(helperDirEnv)
	if dir == "" {
		t.Skip("only runs as a helper process")
	}
	n, err := strconv.Atoi(os.Getenv(helperNEnv))
	if err != nil {
		t.Fatal(err)
	}
	if err := appendAs(dir, os.Getenv(helperIDEnv), n); err != nil {
		t.Fatal(err)
	}
}

// appendAs opens its own Log on dir and appends n records naming writer id.
func appendAs(dir, id string, n int) error {
	l, err := Open(dir)
	if err != nil {
		return err
	}
	defer l.Close()
	for i := range n {
		if _, err := l.Append(Record{Event: EvUploaded, Outcome: OutcomeOK, Partner: id, Bytes: int64(i + 1)}); err != nil {
			return err
		}
	}
	return nil
}

// checkWriters verifies the log in dir and checks that each writer's
// records are all there, in its own order.
func checkWriters(t *testing.T, dir string, writers map[string]int) {
	t.Helper()
	total := 0
	for _, n := range writers {
		total += n
	}
	sum, err := Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Records != int64(total) {
		t.Errorf("%d records, want %d", sum.Records, total)
	}
	next := map[string]int64{}
	for _, r := range records(t, dir) {
		next[r.Partner]++
		if r.Bytes != next[r.Partner] {
			t.Fatalf("writer %s: record %d where %d was expected", r.Partner, r.Bytes, next[r.Partner])
		}
	}
	for id, n := range writers {
		if next[id] != int64(n) {
			t.Errorf("writer %s: %d records, want %d", id, next[id], n)
		}
	}
}

func TestConcurrentLogs(t *testing.T) {
	_, dir := openLog(t)
	writers := map[string]int{}
	for i := range 8 {
		writers[fmt.Sprintf("g%d", i)] = 40
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(writers))
	for id, n := range writers {
		wg.Go(func() { errs <- appendAs(dir, id, n) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	checkWriters(t, dir, writers)
}

func TestConcurrentGoroutinesShareALog(t *testing.T) {
	l, dir := openLog(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			for j := range 20 {
				_, err := l.Append(Record{Event: EvFiled, Outcome: OutcomeOK, Partner: fmt.Sprintf("g%d", i), Bytes: int64(j + 1)})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	writers := map[string]int{}
	for i := range 8 {
		writers[fmt.Sprintf("g%d", i)] = 20
	}
	checkWriters(t, dir, writers)
}

func TestConcurrentProcesses(t *testing.T) {
	_, dir := openLog(t)
	writers := map[string]int{"p0": 150, "p1": 150, "g0": 60, "g1": 60, "g2": 60}
	var procs []*exec.Cmd
	for _, id := range []string{"p0", "p1"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), helperDirEnv+"="+dir, helperIDEnv+"="+id, helperNEnv+"="+strconv.Itoa(writers[id]))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, cmd)
	}
	alongside(t, procs, []string{"g0", "g1", "g2"}, func(id string) error { return appendAs(dir, id, writers[id]) })
	checkWriters(t, dir, writers)
}

// alongside runs fn for each goroutine id while the helper processes run,
// waits for all of them, and fails the test on any error.
func alongside(t *testing.T, procs []*exec.Cmd, ids []string, fn func(id string) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(ids))
	for _, id := range ids {
		wg.Go(func() { errs <- fn(id) })
	}
	for _, cmd := range procs {
		if err := cmd.Wait(); err != nil {
			t.Errorf("helper process: %v", err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}
