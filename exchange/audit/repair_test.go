package audit

import (
	"os"
	"path/filepath"
	"testing"
)

// tear appends bytes without a newline to the log in dir, as a crash
// mid-write would leave them.
func tear(t *testing.T, dir string, torn []byte) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, FileName), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(torn); err != nil {
		t.Fatal(err)
	}
}

// records returns every record of the log in dir.
func records(t *testing.T, dir string) []Record {
	t.Helper()
	var rs []Record
	if err := Scan(dir, func(r Record) error { rs = append(rs, r); return nil }); err != nil {
		t.Fatal(err)
	}
	return rs
}

// checkRepaired checks that r records cutting torn.
func checkRepaired(t *testing.T, r Record, seq int64, torn []byte) {
	t.Helper()
	if r.Seq != seq || r.Event != EvRepaired || r.Outcome != OutcomeOK ||
		r.Bytes != int64(len(torn)) || r.SHA256 != hashHex(torn) || r.Detail == "" {
		t.Errorf("repair record %+v, want seq %d, %d bytes, sha256 %s", r, seq, len(torn), hashHex(torn))
	}
}

func TestOpenRepairsTornTail(t *testing.T) {
	l, dir := openLog(t)
	appendN(t, l, 3)
	l.Close()
	torn := []byte(`{"seq":4,"time":"2026-11-27T22:0`)
	tear(t, dir, torn)
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	sum, err := Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Records != 4 {
		t.Errorf("%d records after repair, want 4", sum.Records)
	}
	checkRepaired(t, records(t, dir)[3], 4, torn)
}

func TestAppendRepairsTornTail(t *testing.T) {
	l, dir := openLog(t)
	appendN(t, l, 2)
	want := hashHex(lines(t, dir)[1])
	torn := []byte(`{"seq":3,"ti`)
	tear(t, dir, torn)
	seq, head, err := l.Head()
	if err != nil || seq != 2 || head != want {
		t.Errorf("Head with a torn tail = %d %s %v, want seq 2", seq, head, err)
	}
	r, err := l.Append(Record{Event: EvRunFinished, Outcome: OutcomeOK})
	if err != nil {
		t.Fatal(err)
	}
	if r.Seq != 4 {
		t.Errorf("appended record has seq %d, want 4 (after the repair record)", r.Seq)
	}
	rs := records(t, dir)
	if len(rs) != 4 {
		t.Fatalf("%d records, want 4", len(rs))
	}
	checkRepaired(t, rs[2], 3, torn)
}

func TestRepairOfALogWithoutANewline(t *testing.T) {
	dir := t.TempDir()
	torn := []byte(`{"seq":1,"time"`)
	if err := os.WriteFile(filepath.Join(dir, FileName), torn, 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rs := records(t, dir)
	if len(rs) != 1 {
		t.Fatalf("%d records, want 1", len(rs))
	}
	checkRepaired(t, rs[0], 1, torn)
	if rs[0].Prev != ZeroHash {
		t.Errorf("prev %s, want zeros", rs[0].Prev)
	}
}

func TestAppendRefusesACorruptLastLine(t *testing.T) {
	l, dir := openLog(t)
	appendN(t, l, 2)
	tear(t, dir, []byte("garbage\n"))
	if _, err := l.Append(Record{Event: EvRunFinished, Outcome: OutcomeOK}); err == nil {
		t.Fatal("Append after a garbage line succeeded")
	}
	if _, _, err := l.Head(); err == nil {
		t.Fatal("Head of a log ending in garbage succeeded")
	}
}
