package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// openLog opens a log in a new temporary folder.
func openLog(t testing.TB) (*Log, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "audit")
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, dir
}

// appendN appends n records and returns them as written.
func appendN(t testing.TB, l *Log, n int) []Record {
	t.Helper()
	var out []Record
	for i := range n {
		r, err := l.Append(Record{Event: EvUploaded, Outcome: OutcomeOK, Partner: "uk-hmrc",
			File: fmt.Sprintf("f%d.pgp", i), Bytes: int64(i + 1)})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// lines returns the lines of the current log file without newlines.
func lines(t testing.TB, dir string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Fatalf("log does not end in a newline: %q", data)
	}
	return bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
}

func TestAppendVerifyRoundTrip(t *testing.T) {
	l, dir := openLog(t)
	want := appendN(t, l, 5)
	for i, r := range want {
		if r.Seq != int64(i+1) {
			t.Errorf("record %d has seq %d", i, r.Seq)
		}
		if !validTime(r.Time) || len(r.Time) != len(TimeLayout) {
			t.Errorf("record %d has time %q", i, r.Time)
		}
	}
	if want[0].Prev != ZeroHash {
		t.Errorf("first prev = %s", want[0].Prev)
	}
	sum, err := Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	seq, head, err := l.Head()
	if err != nil {
		t.Fatal(err)
	}
	if sum.Records != 5 || sum.HeadSeq != 5 || seq != 5 || head != sum.HeadSHA256 {
		t.Errorf("summary %+v, head %d %s", sum, seq, head)
	}
	if len(sum.Files) != 1 || sum.Files[0] != filepath.Join(dir, FileName) {
		t.Errorf("files %v", sum.Files)
	}
	var got []Record
	if err := Scan(dir, func(r Record) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("scan gave %+v, want %+v", got, want)
	}
}

func TestFieldOrder(t *testing.T) {
	l, dir := openLog(t)
	if _, err := l.Append(Record{Event: EvFiled, Outcome: OutcomeOK, Time: "2026-11-27T22:04:35.123Z",
		Partner: "uk-hmrc", Detail: "a<b&c", PeerLogHead: &LogHead{Seq: 7, SHA256: ZeroHash}}); err != nil {
		t.Fatal(err)
	}
	want := `{"seq":1,"time":"2026-11-27T22:04:35.123Z","event":"bundle.filed","outcome":"ok","prev":"` + ZeroHash +
		`","partner":"uk-hmrc","peer_log_head":{"seq":7,"sha256":"` + ZeroHash + `"},"detail":"a<b&c"}`
	if got := string(lines(t, dir)[0]); got != want {
		t.Errorf("line\n%s\nwant\n%s", got, want)
	}
}

func TestNoRawNewlines(t *testing.T) {
	l, dir := openLog(t)
	hostile := "a\nb\rc\u2028d\u2029e\x00f\x1b[31m\x7fg\"h\\i"
	if _, err := l.Append(Record{Event: EvRejected, Outcome: OutcomeRejected, File: hostile, Error: hostile + "\n"}); err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 1)
	data, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(data, []byte("\n")); n != 2 {
		t.Errorf("log holds %d newlines for 2 records: %q", n, data)
	}
	for _, bad := range []string{"\r", "\u2028", "\u2029", "\x00", "\x1b"} {
		if bytes.Contains(data, []byte(bad)) {
			t.Errorf("log holds a raw %q", bad)
		}
	}
	var got []Record
	if err := Scan(dir, func(r Record) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if got[0].File != hostile || got[0].Error != hostile+"\n" {
		t.Errorf("file name came back as %q", got[0].File)
	}
}

// TestAppendCutsOverlongRecords: a record of any length is written, its
// long members cut to MaxField with their length and sha256, so that no
// step that depends on its record is stopped by a partner's long text.
func TestAppendCutsOverlongRecords(t *testing.T) {
	l, dir := openLog(t)
	huge := strings.Repeat("\x01", MaxLine)  // 6 bytes each once encoded
	name := strings.Repeat("\u200b", 300000) // a 300,000-character name
	r := Record{Event: EvRejected, Outcome: OutcomeRejected, Partner: huge, Bundle: huge, Kind: huge, File: name,
		SHA256: huge, Error: huge, Code: huge, InReplyTo: huge, Reference: huge, Self: huge, Host: huge,
		HostKey: huge, User: huge, Detail: huge, PeerLogHead: &LogHead{Seq: 1, SHA256: huge}}
	got, err := l.Append(r)
	if err != nil {
		t.Fatalf("Append of an over-long record: %v", err)
	}
	sum := sha256.Sum256([]byte(name))
	if len(got.File) > MaxField || !strings.Contains(got.File, "cut: 900000 bytes, sha256 "+hex.EncodeToString(sum[:])) {
		t.Errorf("file came back as %d bytes ending %q", len(got.File), got.File[len(got.File)-120:])
	}
	if _, err := l.Append(Record{Event: EvFiled, Outcome: OutcomeOK, Detail: "after"}); err != nil {
		t.Fatal(err)
	}
	ls := lines(t, dir)
	if len(ls) != 2 || len(ls[0]) > MaxLine {
		t.Fatalf("%d lines, the first %d bytes", len(ls), len(ls[0]))
	}
	if s, err := Verify(dir); err != nil || s.Records != 2 {
		t.Errorf("Verify = %+v, %v", s, err)
	}
}

func TestAppendRefusesInvalidRecords(t *testing.T) {
	l, dir := openLog(t)
	for _, r := range []Record{
		{Outcome: OutcomeOK},
		{Event: EvFiled},
		{Event: EvFiled, Outcome: "fine"},
		{Event: EvFiled, Outcome: OutcomeOK, Time: "2026-11-27 22:04:35"},
		{Event: EvFiled, Outcome: OutcomeOK, Time: "2026-11-27T22:04:35+01:00"},
		{Event: EvFiled, Outcome: OutcomeOK, Time: "2026-11-27T22:04:35." + strings.Repeat("0", 100) + "Z"},
	} {
		if _, err := l.Append(r); !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("Append(%.80v) = %v, want ErrInvalidRecord", r, err)
		}
	}
	if sum, err := Verify(dir); err != nil || sum.Records != 0 {
		t.Errorf("Verify = %+v, %v", sum, err)
	}
}

func TestPermissions(t *testing.T) {
	_, dir := openLog(t)
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, FileName): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), want)
		}
	}
}

func TestClosedLog(t *testing.T) {
	l, _ := openLog(t)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(Record{Event: EvFiled, Outcome: OutcomeOK}); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close = %v", err)
	}
	if _, _, err := l.Head(); !errors.Is(err, ErrClosed) {
		t.Errorf("Head after Close = %v", err)
	}
}

// TestPrevMatchesSHA256Sum checks each prev against hashes computed
// independently: crypto/sha256 over lines split with bytes.Split, and the
// sha256sum program when it is installed.
func TestPrevMatchesSHA256Sum(t *testing.T) {
	l, dir := openLog(t)
	appendN(t, l, 4)
	ls := lines(t, dir)
	tool, err := exec.LookPath("sha256sum")
	if err != nil {
		t.Log("sha256sum not installed; checking with crypto/sha256 only")
	}
	for i := 1; i < len(ls); i++ {
		sum := sha256.Sum256(ls[i-1])
		want := hex.EncodeToString(sum[:])
		if !bytes.Contains(ls[i], []byte(`"prev":"`+want+`"`)) {
			t.Errorf("line %d does not name prev %s: %s", i+1, want, ls[i])
		}
		if tool != "" {
			if got := sha256sumOf(t, tool, ls[i-1]); got != want {
				t.Errorf("sha256sum of line %d = %s, want %s", i, got, want)
			}
		}
	}
}

// sha256sumOf runs sha256sum on data and returns the hex digest.
func sha256sumOf(t *testing.T, tool string, data []byte) string {
	t.Helper()
	cmd := exec.Command(tool)
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(out))[0]
}

// TestLongLines checks that reading the last line backwards in chunks finds
// lines longer than a chunk, up to MaxLine.
func TestLongLines(t *testing.T) {
	l, dir := openLog(t)
	for _, n := range []int{tailChunk - 200, tailChunk, 3*tailChunk + 17, MaxLine - 400} {
		if _, err := l.Append(Record{Event: EvRunFinished, Outcome: OutcomeOK, Detail: strings.Repeat("d", n)}); err != nil {
			t.Fatal(err)
		}
		appendN(t, l, 1)
	}
	ls := lines(t, dir)
	if len(ls[6]) <= MaxLine-400 {
		t.Fatalf("line 7 is only %d bytes", len(ls[6]))
	}
	sum, err := Verify(dir)
	if err != nil || sum.Records != 8 {
		t.Fatalf("Verify = %+v, %v", sum, err)
	}
	seq, head, err := l.Head()
	if err != nil || seq != 8 || head != hashHex(ls[7]) {
		t.Errorf("Head = %d %s %v", seq, head, err)
	}
}

func TestAppendRefusesAnOverlongLastLine(t *testing.T) {
	l, dir := openLog(t)
	appendN(t, l, 1)
	tear(t, dir, append(bytes.Repeat([]byte("x"), MaxLine+1), '\n'))
	if _, err := l.Append(Record{Event: EvRunFinished, Outcome: OutcomeOK}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Append after an overlong line = %v, want ErrCorrupt", err)
	}
}

// TestOpenRefusesALinkForTheLog: an exchange.jsonl that is a symbolic link
// (to a file someone wants us to append to or repair) is refused, and the
// link's target is left as it was.
func TestOpenRefusesALinkForTheLog(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("a torn line, no newline"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(dir, FileName)); err != nil {
		t.Fatal(err)
	}
	if l, err := Open(dir); err == nil {
		l.Close()
		t.Fatal("Open followed a symbolic link to the log")
	}
	if b, _ := os.ReadFile(victim); string(b) != "a torn line, no newline" {
		t.Fatalf("the link's target now holds %q", b)
	}
}
