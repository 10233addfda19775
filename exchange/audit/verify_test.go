package audit

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeLines writes lines (each followed by a newline) to dir/name.
func writeLines(t testing.TB, dir, name string, ls [][]byte) {
	t.Helper()
	var buf bytes.Buffer
	for _, l := range ls {
		buf.Write(l)
		buf.WriteByte('\n')
	}
	if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// tenLines makes a log of ten records and returns its folder and lines.
func tenLines(t testing.TB) (string, [][]byte) {
	t.Helper()
	l, dir := openLog(t)
	appendN(t, l, 10)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, lines(t, dir)
}

func TestVerifyFindsTampering(t *testing.T) {
	orig := func(ls [][]byte, i int) []byte { return bytes.Clone(ls[i-1]) }
	tests := []struct {
		name   string
		tamper func(ls [][]byte) [][]byte // ls[i-1] is line i
		line   int64
		seq    int64
		reason string
	}{
		{"edit a byte in a middle line", func(ls [][]byte) [][]byte {
			ls[4] = bytes.Replace(ls[4], []byte(`"f4.pgp"`), []byte(`"g4.pgp"`), 1)
			return ls
		}, 6, 6, "does not match the previous line's sha256"},
		{"break the JSON of a middle line", func(ls [][]byte) [][]byte {
			ls[4][0] = 'x'
			return ls
		}, 5, 0, "unparsable JSON"},
		{"delete a line", func(ls [][]byte) [][]byte {
			return append(ls[:4], ls[5:]...)
		}, 5, 6, "expected seq 5 "},
		{"swap two lines", func(ls [][]byte) [][]byte {
			ls[3], ls[4] = ls[4], ls[3]
			return ls
		}, 4, 5, "expected seq 4 "},
		{"insert a copied line", func(ls [][]byte) [][]byte {
			return append(ls[:5], append([][]byte{orig(ls, 3)}, ls[5:]...)...)
		}, 6, 3, "expected seq 6 "},
		{"insert a forged line with a good link", func(ls [][]byte) [][]byte {
			forged := []byte(`{"seq":6,"time":"2026-11-27T22:04:35.000Z","event":"bundle.filed","outcome":"ok","prev":"` + hashHex(ls[4]) + `"}`)
			return append(ls[:5], append([][]byte{forged}, ls[5:]...)...)
		}, 7, 6, "expected seq 7 "},
		{"garbage line", func(ls [][]byte) [][]byte {
			ls[6] = []byte("garbage")
			return ls
		}, 7, 0, "unparsable JSON"},
		{"empty line", func(ls [][]byte) [][]byte {
			return append(ls[:4], append([][]byte{{}}, ls[4:]...)...)
		}, 5, 0, "empty line"},
		{"missing outcome", func(ls [][]byte) [][]byte {
			ls[0] = bytes.Replace(ls[0], []byte(`"outcome":"ok",`), nil, 1)
			return ls
		}, 1, 1, "missing required field outcome"},
		{"missing seq", func(ls [][]byte) [][]byte {
			ls[0] = bytes.Replace(ls[0], []byte(`"seq":1,`), nil, 1)
			return ls
		}, 1, 0, "missing required field seq"},
		{"bad outcome in the last line", func(ls [][]byte) [][]byte {
			ls[9] = bytes.Replace(ls[9], []byte(`"outcome":"ok"`), []byte(`"outcome":"no"`), 1)
			return ls
		}, 10, 10, `bad outcome "no"`},
		{"bad time", func(ls [][]byte) [][]byte {
			ls[0] = []byte(`{"seq":1,"time":"yesterday","event":"x","outcome":"ok","prev":"` + ZeroHash + `"}`)
			return ls
		}, 1, 1, `bad time "yesterday"`},
		{"seq of the wrong type", func(ls [][]byte) [][]byte {
			ls[2] = bytes.Replace(ls[2], []byte(`"seq":3`), []byte(`"seq":"3"`), 1)
			return ls
		}, 3, 0, "unparsable JSON"},
		{"line longer than 1 MiB", func(ls [][]byte) [][]byte {
			ls[7] = bytes.Repeat([]byte("a"), MaxLine+1)
			return ls
		}, 8, 0, "line longer than 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, ls := tenLines(t)
			writeLines(t, dir, FileName, tt.tamper(ls))
			_, err := Verify(dir)
			checkVerifyError(t, err, filepath.Join(dir, FileName), tt.line, tt.seq, tt.reason)
		})
	}
}

// checkVerifyError fails unless err is a *VerifyError with these fields.
func checkVerifyError(t *testing.T, err error, file string, line, seq int64, reason string) {
	t.Helper()
	var ve *VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("Verify = %v, want a *VerifyError", err)
	}
	if ve.File != file || ve.Line != line || ve.Seq != seq || !strings.Contains(ve.Reason, reason) {
		t.Errorf("Verify = %q, want %s:%d seq %d reason containing %q", ve, file, line, seq, reason)
	}
	if !errors.Is(err, ErrCorrupt) {
		t.Errorf("%v does not wrap ErrCorrupt", err)
	}
}

func TestVerifyTornLastLineIsReadOnly(t *testing.T) {
	dir, ls := tenLines(t)
	path := filepath.Join(dir, FileName)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	torn := data[:len(data)-len(ls[9])/2]
	if err := os.WriteFile(path, torn, 0o600); err != nil {
		t.Fatal(err)
	}
	sum, err := Verify(dir)
	checkVerifyError(t, err, path, 10, 0, "torn last line (no newline)")
	if sum.Records != 9 || sum.HeadSeq != 9 || sum.HeadSHA256 != hashHex(ls[8]) {
		t.Errorf("summary of the good lines = %+v", sum)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(after, torn) {
		t.Error("Verify changed the log")
	}
}

func TestVerifyAcrossRotatedFiles(t *testing.T) {
	dir, ls := tenLines(t)
	writeLines(t, dir, "exchange-20261101.jsonl", ls[:4])
	writeLines(t, dir, "exchange-20261201.jsonl", ls[4:7])
	writeLines(t, dir, FileName, ls[7:])
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a log"), 0o600); err != nil {
		t.Fatal(err)
	}
	sum, err := Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"exchange-20261101.jsonl", "exchange-20261201.jsonl", FileName}
	if sum.Records != 10 || sum.HeadSHA256 != hashHex(ls[9]) || len(sum.Files) != 3 {
		t.Fatalf("summary %+v", sum)
	}
	for i, f := range sum.Files {
		if f != filepath.Join(dir, want[i]) {
			t.Errorf("file %d is %s, want %s", i, f, want[i])
		}
	}
	var seqs []int64
	if err := Scan(dir, func(r Record) error { seqs = append(seqs, r.Seq); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(seqs) != 10 || seqs[0] != 1 || seqs[9] != 10 {
		t.Errorf("Scan gave seqs %v", seqs)
	}
	if err := os.Remove(filepath.Join(dir, want[1])); err != nil {
		t.Fatal(err)
	}
	_, err = Verify(dir)
	checkVerifyError(t, err, filepath.Join(dir, FileName), 1, 8, "expected seq 5 ")
}

func TestVerifyEmptyFolder(t *testing.T) {
	sum, err := Verify(t.TempDir())
	if err != nil || sum.Records != 0 || sum.HeadSHA256 != ZeroHash {
		t.Errorf("Verify of an empty folder = %+v, %v", sum, err)
	}
	if _, err := Verify(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Verify of a missing folder = %v", err)
	}
}

func TestVerifyHead(t *testing.T) {
	dir, ls := tenLines(t)
	if err := VerifyHead(dir, 6, hashHex(ls[5])); err != nil {
		t.Errorf("VerifyHead of line 6 = %v", err)
	}
	if err := VerifyHead(dir, 0, ZeroHash); err != nil {
		t.Errorf("VerifyHead of the empty head = %v", err)
	}
	for _, tt := range []struct {
		seq int64
		sum string
	}{{6, hashHex(ls[4])}, {11, hashHex(ls[9])}, {0, hashHex(ls[0])}} {
		if err := VerifyHead(dir, tt.seq, tt.sum); !errors.Is(err, ErrHeadMismatch) {
			t.Errorf("VerifyHead(%d, %s) = %v, want ErrHeadMismatch", tt.seq, tt.sum, err)
		}
	}
	ls[2] = []byte("garbage")
	writeLines(t, dir, FileName, ls)
	err := VerifyHead(dir, 6, hashHex(ls[5]))
	checkVerifyError(t, err, filepath.Join(dir, FileName), 3, 0, "unparsable JSON")
}

func TestScanStopsOnCallbackError(t *testing.T) {
	dir, _ := tenLines(t)
	stop := errors.New("enough")
	n := 0
	err := Scan(dir, func(r Record) error {
		n++
		if r.Seq == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Errorf("Scan = %v after %d records", err, n)
	}
}
