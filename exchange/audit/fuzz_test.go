package audit

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzVerify feeds random bytes to Verify as exchange.jsonl. Verify must not
// panic; when it accepts the log, Scan must agree and an Append must extend
// the chain so that it still verifies.
func FuzzVerify(f *testing.F) {
	f.Add([]byte(""))
	f.Add([]byte(`{"seq":1,"time":"2026-11-27T22:04:35.000Z","event":"run.finished","outcome":"ok","prev":"` + ZeroHash + `"}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, FileName), data, 0o600); err != nil {
			t.Fatal(err)
		}
		sum, err := Verify(dir)
		var ve *VerifyError
		if err != nil && !errors.As(err, &ve) {
			t.Fatalf("Verify gave %v, not a *VerifyError", err)
		}
		if err != nil {
			return
		}
		var n int64
		if err := Scan(dir, func(Record) error { n++; return nil }); err != nil || n != sum.Records {
			t.Fatalf("Scan = %v after %d records; Verify counted %d", err, n, sum.Records)
		}
		l, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		r, err := l.Append(Record{Event: EvRunFinished, Outcome: OutcomeOK})
		if err != nil || r.Seq != sum.HeadSeq+1 || r.Prev != sum.HeadSHA256 {
			t.Fatalf("Append after a good log = %+v, %v", r, err)
		}
		if after, err := Verify(dir); err != nil || after.Records != sum.Records+1 {
			t.Fatalf("Verify after Append = %+v, %v", after, err)
		}
	})
}
