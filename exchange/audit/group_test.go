package audit

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// appendQueued starts one Append per record while l is held, waits until
// all of them are queued, lets them go and returns their errors.
func appendQueued(t *testing.T, l *Log, rs []Record) []error {
	t.Helper()
	errs := make([]error, len(rs))
	var wg sync.WaitGroup
	l.mu.Lock()
	for i, r := range rs {
		wg.Go(func() { _, errs[i] = l.Append(r) })
	}
	for queued(l) < len(rs) {
		time.Sleep(time.Millisecond)
	}
	l.mu.Unlock()
	wg.Wait()
	return errs
}

// queued returns how many Appends wait for the next group commit.
func queued(l *Log) int {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	return len(l.queue)
}

// writerRecords returns n records of each of writers writers, interleaved.
func writerRecords(writers, n int) []Record {
	var rs []Record
	for j := range n {
		for i := range writers {
			rs = append(rs, Record{Event: EvFiled, Outcome: OutcomeOK, Partner: fmt.Sprintf("g%d", i), Bytes: int64(j + 1)})
		}
	}
	return rs
}

func TestGroupCommitSyncsOnce(t *testing.T) {
	l, dir := openLog(t)
	const n = 64
	before := l.syncs
	for _, err := range appendQueued(t, l, writerRecords(n, 1)) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := l.syncs - before; got != 1 {
		t.Errorf("%d concurrent Appends took %d fsyncs, want 1", n, got)
	}
	sum, err := Verify(dir)
	if err != nil || sum.Records != n {
		t.Errorf("Verify = %+v, %v", sum, err)
	}
}

func TestGroupCommitFewerSyncsThanAppends(t *testing.T) {
	l, dir := openLog(t)
	const writers, each = 16, 25
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			for j := range each {
				if _, err := l.Append(Record{Event: EvFiled, Outcome: OutcomeOK, Partner: fmt.Sprintf("g%d", i), Bytes: int64(j + 1)}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if l.syncs >= writers*each/2 {
		t.Errorf("%d concurrent Appends took %d fsyncs", writers*each, l.syncs)
	}
	want := map[string]int{}
	for i := range writers {
		want[fmt.Sprintf("g%d", i)] = each
	}
	checkWriters(t, dir, want)
}

// A record too long for a line is cut, not refused, and written with the
// rest of its group.
func TestGroupCommitCutsOneRecord(t *testing.T) {
	l, dir := openLog(t)
	rs := writerRecords(3, 1)
	rs[1].Detail = strings.Repeat("x", MaxLine)
	errs := appendQueued(t, l, rs)
	if errs[0] != nil || errs[1] != nil || errs[2] != nil {
		t.Fatalf("errors %v", errs)
	}
	sum, err := Verify(dir)
	if err != nil || sum.Records != 3 {
		t.Errorf("Verify = %+v, %v", sum, err)
	}
}

// A group that outgrows the size limit rotates between its records.
func TestGroupCommitRotates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "audit")
	l, err := OpenWith(dir, smallFiles)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, err := range appendQueued(t, l, writerRecords(60, 1)) {
		if err != nil {
			t.Fatal(err)
		}
	}
	sum, err := Verify(dir)
	if err != nil || sum.Records != 60 || len(sum.Files) < 5 {
		t.Fatalf("Verify = %+v, %v", sum, err)
	}
	for _, f := range sum.Files[:len(sum.Files)-1] {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > smallFiles.MaxBytes+500 {
			t.Errorf("rotated file %s of %d bytes", filepath.Base(f), fi.Size())
		}
	}
}

// A torn tail is cut off before a group is written after it.
func TestGroupCommitRepairsTornTail(t *testing.T) {
	l, dir := openLog(t)
	appendN(t, l, 2)
	torn := []byte(`{"seq":3,"ti`)
	tear(t, dir, torn)
	for _, err := range appendQueued(t, l, writerRecords(3, 2)) {
		if err != nil {
			t.Fatal(err)
		}
	}
	rs := records(t, dir)
	if len(rs) != 9 {
		t.Fatalf("%d records, want 9", len(rs))
	}
	checkRepaired(t, rs[2], 3, torn)
}
