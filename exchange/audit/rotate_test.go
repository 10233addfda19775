package audit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// rotateHelperEnv names the folder for TestRotateHelperProcess.
const rotateHelperEnv = "SEALPOST_AUDIT_ROTATE_HELPER_DIR"

// smallFiles rotates every few records.
var smallFiles = Options{MaxBytes: 2000}

// appendRotating opens its own rotating Log on dir and appends n records
// naming writer id.
func appendRotating(dir, id string, n int) error {
	l, err := OpenWith(dir, smallFiles)
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

// TestRotateHelperProcess is the body of TestRotateConcurrentProcesses's
// subprocesses.
func TestRotateHelperProcess(t *testing.T) {
	dir := os.Getenv(rotateHelperEnv)
	if dir == "" {
		t.Skip("only runs as a helper process")
	}
	if err := appendRotating(dir, os.Getenv(helperIDEnv), 100); err != nil {
		t.Fatal(err)
	}
}

func TestRotateBySize(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "audit")
	l, err := OpenWith(dir, smallFiles)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	want := appendN(t, l, 60)
	sum, err := Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Records != 60 || len(sum.Files) < 5 {
		t.Fatalf("summary %+v", sum)
	}
	for _, f := range sum.Files[:len(sum.Files)-1] {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if !rotatedRE.MatchString(filepath.Base(f)) || fi.Size() > smallFiles.MaxBytes+500 {
			t.Errorf("rotated file %s of %d bytes", filepath.Base(f), fi.Size())
		}
	}
	seq, head, err := l.Head()
	if err != nil || seq != 60 || head != sum.HeadSHA256 {
		t.Errorf("Head = %d %s %v, want 60 %s", seq, head, err, sum.HeadSHA256)
	}
	var got []int64
	Scan(dir, func(r Record) error { got = append(got, r.Bytes); return nil })
	for i, r := range want {
		if got[i] != r.Bytes {
			t.Fatalf("Scan gave record %d bytes %d, want %d", i, got[i], r.Bytes)
		}
	}
}

func TestRotateByMonth(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "audit")
	l, err := OpenWith(dir, Options{Monthly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, tm := range []string{"2026-01-05T10:00:00.000Z", "2026-01-31T23:59:59.999Z", "2026-02-01T00:00:00.000Z",
		"2026-02-10T00:00:00.000Z", "2026-04-01T00:00:00.000Z"} {
		if _, err := l.Append(Record{Event: EvRunFinished, Outcome: OutcomeOK, Time: tm}); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"exchange-202601-000000000001.jsonl", "exchange-202602-000000000003.jsonl", FileName}
	if len(sum.Files) != len(want) || sum.Records != 5 {
		t.Fatalf("files %v, %d records", sum.Files, sum.Records)
	}
	for i, f := range sum.Files {
		if filepath.Base(f) != want[i] {
			t.Errorf("file %d is %s, want %s", i, filepath.Base(f), want[i])
		}
	}
}

// A Log held open while another Log rotates the file must write to the new
// current file, not to the rotated one.
func TestRotateNoticedByOtherLog(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "audit")
	rot, err := OpenWith(dir, smallFiles)
	if err != nil {
		t.Fatal(err)
	}
	defer rot.Close()
	other, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for range 30 {
		appendN(t, rot, 1)
		appendN(t, other, 1)
	}
	sum, err := Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Records != 60 || len(sum.Files) < 3 {
		t.Fatalf("summary %+v", sum)
	}
	seq, _, err := other.Head()
	if err != nil || seq != 60 {
		t.Errorf("the other Log's Head = %d, %v", seq, err)
	}
}

func TestRotateConcurrentProcesses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "audit")
	writers := map[string]int{"p0": 100, "p1": 100, "g0": 50, "g1": 50}
	var procs []*exec.Cmd
	for _, id := range []string{"p0", "p1"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRotateHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), rotateHelperEnv+"="+dir, helperIDEnv+"="+id)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, cmd)
	}
	alongside(t, procs, []string{"g0", "g1"}, func(id string) error { return appendRotating(dir, id, writers[id]) })
	checkWriters(t, dir, writers)
	sum, _ := Verify(dir)
	if len(sum.Files) < 10 {
		t.Errorf("only %d files", len(sum.Files))
	}
}

// An empty current file (a crash right after a rotation) continues the
// chain of the newest rotated file.
func TestRotateEmptyCurrentContinuesChain(t *testing.T) {
	dir, ls := tenLines(t)
	if err := os.Rename(filepath.Join(dir, FileName), filepath.Join(dir, RotatedName(1, "2026-11-01T00:00:00Z"))); err != nil {
		t.Fatal(err)
	}
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	seq, head, err := l.Head()
	if err != nil || seq != 10 || head != hashHex(ls[9]) {
		t.Fatalf("Head = %d %s %v", seq, head, err)
	}
	r := appendN(t, l, 1)[0]
	if r.Seq != 11 || r.Prev != hashHex(ls[9]) {
		t.Errorf("appended seq %d prev %s", r.Seq, r.Prev)
	}
	if sum, err := Verify(dir); err != nil || sum.Records != 11 {
		t.Errorf("Verify = %+v, %v", sum, err)
	}
}

func TestSortLogFiles(t *testing.T) {
	names := []string{RotatedName(900, "2026-01-01T00:00:00Z"), "exchange-old.jsonl",
		RotatedName(1000, "2025-12-31T00:00:00Z"), RotatedName(1, "2026-03-01T00:00:00Z")}
	sortLogFiles(names)
	want := []string{"exchange-old.jsonl", "exchange-202603-000000000001.jsonl",
		"exchange-202601-000000000900.jsonl", "exchange-202512-000000001000.jsonl"}
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Errorf("sorted %v, want %v", names, want)
	}
	if got := RotatedName(123, "2026-11-27T22:04:35Z"); got != "exchange-202611-"+fmt.Sprintf("%012d", 123)+".jsonl" {
		t.Errorf("RotatedName = %s", got)
	}
}
