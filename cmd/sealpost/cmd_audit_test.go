package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/exchange/audit"
)

// exchangeOnce makes a world where us sent uk a request (reference ref)
// that uk filed and receipted, and returns the world and the bundle id.
func exchangeOnce(t *testing.T, extra, ref string) (*cliWorld, string) {
	t.Helper()
	w := newCLIWorld(t, extra)
	p := w.parties[us]
	p.cli(t, "send", "--to", uk, "--ref", ref, writeFile(t, t.TempDir(), "a.txt", "alpha")).want(t, 0)
	p.cli(t, "run").want(t, 0)
	w.parties[uk].cli(t, "run").want(t, 0)
	p.cli(t, "run").want(t, 0)
	var id string
	audit.Scan(p.state("audit"), func(r audit.Record) error {
		if r.Event == audit.EvUploaded {
			id = r.Bundle
		}
		return nil
	})
	if id == "" {
		t.Fatal("nothing was uploaded")
	}
	return w, id
}

// logLines reads a party's current log file as lines with their newlines.
func logLines(t *testing.T, p *party) []string {
	t.Helper()
	data, err := os.ReadFile(p.state("audit", audit.FileName))
	must(t, err)
	ls := strings.SplitAfter(string(data), "\n")
	return ls[:len(ls)-1] // after the last newline: ""
}

func TestAuditVerifyNamesEachTampering(t *testing.T) {
	w := newCLIWorld(t, "")
	p := w.parties[us]
	for _, n := range []string{"a.txt", "b.txt", "c.txt", "d.txt", "e.txt"} {
		p.cli(t, "send", "--to", uk, writeFile(t, t.TempDir(), n, n)).want(t, 0)
	}
	orig := logLines(t, p)
	if len(orig) != 5 {
		t.Fatalf("%d lines", len(orig))
	}
	tests := []struct {
		name   string
		tamper func(ls []string) []string
		want   []string
	}{
		{"edited", func(ls []string) []string { ls[1] = strings.Replace(ls[1], "b.txt", "z.txt", 1); return ls },
			[]string{"exchange.jsonl:3: seq 3: prev", "that line was edited"}},
		{"removed", func(ls []string) []string { return append(ls[:1], ls[2:]...) },
			[]string{"exchange.jsonl:2: seq 3: expected seq 2 (a line was removed, inserted or reordered)"}},
		{"reordered", func(ls []string) []string { ls[1], ls[2] = ls[2], ls[1]; return ls },
			[]string{"exchange.jsonl:2: seq 3: expected seq 2"}},
		{"inserted", func(ls []string) []string { return append(ls[:2], append([]string{ls[1]}, ls[2:]...)...) },
			[]string{"exchange.jsonl:3: seq 2: expected seq 3"}},
		{"unparsable", func(ls []string) []string { ls[3] = "{\"seq\": 4, oops\n"; return ls },
			[]string{"exchange.jsonl:4: unparsable JSON"}},
		{"torn last line", func(ls []string) []string { ls[4] = strings.TrimSuffix(ls[4], "\n")[:40]; return ls },
			[]string{"exchange.jsonl:5: torn last line (no newline)"}},
		{"empty line", func(ls []string) []string { ls[2] = "\n"; return ls },
			[]string{"exchange.jsonl:3: empty line"}},
		{"first line's prev", func(ls []string) []string {
			ls[0] = strings.Replace(ls[0], audit.ZeroHash, strings.Repeat("1", 64), 1)
			return ls
		},
			[]string{"exchange.jsonl:1: seq 1: prev"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ls := tt.tamper(append([]string(nil), orig...))
			must(t, os.WriteFile(filepath.Join(dir, audit.FileName), []byte(strings.Join(ls, "")), 0o600))
			r := sealpost(t, "audit", "verify", "--dir", dir).wantError(t, 1, tt.want...)
			if strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("the error is not one line:\n%s", r.stderr)
			}
		})
	}
}

func TestAuditVerifyAcrossRotatedFiles(t *testing.T) {
	w := newCLIWorld(t, "")
	p := w.parties[us]
	for range 4 {
		p.cli(t, "send", "--to", uk, writeFile(t, t.TempDir(), "a.txt", "a")).want(t, 0)
	}
	ls := logLines(t, p)
	dir := t.TempDir()
	old := filepath.Join(dir, audit.RotatedName(1, "2026-10-01T00:00:00Z"))
	must(t, os.WriteFile(old, []byte(strings.Join(ls[:2], "")), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, audit.FileName), []byte(strings.Join(ls[2:], "")), 0o600))
	r := sealpost(t, "audit", "verify", "--dir", dir).want(t, 0)
	if !strings.Contains(r.stdout, "4 records in 2 file(s)") {
		t.Errorf("verify says %s", r.stdout)
	}
	must(t, os.Remove(old))
	sealpost(t, "audit", "verify", "--dir", dir).wantError(t, 1, "exchange.jsonl:1: seq 3: expected seq 1")
}

func TestAuditList(t *testing.T) {
	w, id := exchangeOnce(t, "", "CASE-\x1b[2J\nforged line\u202e")
	p := w.parties[us]
	r := p.cli(t, "audit", "list").want(t, 0)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if n := len(events(t, p)); len(lines) != n+1 {
		t.Fatalf("table has %d lines for %d records:\n%s", len(lines), n, r.stdout)
	}
	if !strings.Contains(r.stdout, `ref=CASE-\x1b[2J\nforged line\u202e`) || strings.ContainsAny(r.stdout, "\x1b\u202e") {
		t.Errorf("the reference is not escaped:\n%s", r.stdout)
	}
	r = p.cli(t, "audit", "list", "--bundle", id, "--format", "json").want(t, 0)
	var evs []string
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var rec audit.Record
		must(t, json.Unmarshal([]byte(l), &rec))
		evs = append(evs, rec.Event)
	}
	if strings.Join(evs, " ") != "bundle.claimed bundle.uploaded receipt.received" {
		t.Errorf("json records of %s: %v", id, evs)
	}
	r = p.cli(t, "audit", "list", "--format", "csv", "--event", "bundle.queued,bundle.uploaded").want(t, 0)
	if strings.ContainsAny(r.stdout, "\x1b\u202e") || strings.Count(r.stdout, "\n") != 3 {
		t.Errorf("csv:\n%s", r.stdout)
	}
	rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	must(t, err)
	if len(rows) != 3 || rows[1][2] != "bundle.queued" || rows[2][2] != "bundle.uploaded" || rows[2][6] != id {
		t.Errorf("csv rows %q", rows)
	}
	r = p.cli(t, "audit", "list", "--partner", uk, "--since", "1h", "--event", "receipt.", "--format", "json").want(t, 0)
	if strings.Count(r.stdout, "\n") != 1 || !strings.Contains(r.stdout, `"receipt.received"`) {
		t.Errorf("receipt events in the last hour:\n%s", r.stdout)
	}
	r = p.cli(t, "audit", "list", "--until", "2000-01-01").want(t, 0)
	if r.stdout != "" {
		t.Errorf("records before 2000:\n%s", r.stdout)
	}
	p.cli(t, "audit", "list", "--format", "xml").wantError(t, 2, "--format")
	p.cli(t, "audit", "list", "--since", "yesterday").wantError(t, 2, "--since", "is not a time")
	p.cli(t, "audit", "list", "--since", "2026-11-02", "--until", "2026-11-01").wantError(t, 2, "is not before")
	p.cli(t, "audit", "list", "extra").wantError(t, 2, "takes no arguments")
}

func TestAuditListBrokenChain(t *testing.T) {
	w, _ := exchangeOnce(t, "", "CASE-1")
	p := w.parties[us]
	ls := logLines(t, p)
	ls[2] = strings.Replace(ls[2], `"ok"`, `"OK"`, 1)
	must(t, os.WriteFile(p.state("audit", audit.FileName), []byte(strings.Join(ls, "")), 0o600))
	r := p.cli(t, "audit", "list", "--format", "json").wantError(t, 1, `exchange.jsonl:3: seq 3: bad outcome "OK"`, "records after the bad line are not shown")
	if strings.Count(r.stdout, "\n") != 2 {
		t.Errorf("listed before the bad line:\n%s", r.stdout)
	}
}

func TestAuditListOverdue(t *testing.T) {
	w := newCLIWorld(t, "    receipt_due: 1s\n")
	p := w.parties[us]
	beforeSend := time.Now().Add(-time.Second).UTC().Format(time.RFC3339Nano)
	p.cli(t, "send", "--to", uk, "--ref", "CASE-9", writeFile(t, t.TempDir(), "a.txt", "a")).want(t, 0)
	p.cli(t, "run").want(t, 0)
	r := p.cli(t, "audit", "list", "--event", "awaited").want(t, 0)
	if strings.Count(r.stdout, "\n") != 3 || !strings.Contains(r.stdout, "receipt") || !strings.Contains(r.stdout, "response") {
		t.Errorf("awaited:\n%s", r.stdout)
	}
	// As of 2s from now, past our receipt_due of 1s.
	later := time.Now().Add(2 * time.Second).UTC().Format(time.RFC3339Nano)
	r = p.cli(t, "audit", "list", "--event", "overdue", "--as-of", later, "--format", "json").want(t, 0)
	var a audit.Awaited
	if err := json.Unmarshal([]byte(r.stdout), &a); err != nil || !a.Overdue || a.Awaiting != "receipt" || a.Reference != "CASE-9" {
		t.Errorf("overdue: %v\n%s", err, r.stdout)
	}
	r = p.cli(t, "audit", "list", "--event", "overdue", "--as-of", later, "--format", "csv").want(t, 0)
	if !strings.Contains(r.stdout, ",receipt,") || strings.Count(r.stdout, "\n") != 2 {
		t.Errorf("overdue csv:\n%s", r.stdout)
	}
	r = p.cli(t, "audit", "show", "--as-of", later, a.Bundle).want(t, 0)
	if !strings.Contains(r.stdout, "awaiting a receipt: OVERDUE since") {
		t.Errorf("story as of %s:\n%s", later, r.stdout)
	}
	// Without the configuration the default receipt_due (24h) applies.
	r = sealpost(t, "audit", "list", "--dir", p.state("audit"), "--event", "overdue", "--as-of", later).want(t, 0)
	if strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("overdue with default dues:\n%s", r.stdout)
	}
	// As of a time before the send, nothing was awaited and the log had
	// no record of the bundle.
	for _, ev := range awaitedEvents {
		r = p.cli(t, "audit", "list", "--event", ev, "--as-of", beforeSend).want(t, 0)
		if strings.Count(r.stdout, "\n") != 1 {
			t.Errorf("%s as of %s, before the send:\n%s", ev, beforeSend, r.stdout)
		}
	}
	p.cli(t, "audit", "show", "--as-of", beforeSend, a.Bundle).wantError(t, 1, "has no record of bundle "+a.Bundle+" before ")
	p.cli(t, "audit", "list", "--event", "overdue,bundle.").wantError(t, 2, "cannot be mixed")
	p.cli(t, "audit", "list", "--as-of", later).wantError(t, 2, "--as-of goes with --event overdue or awaited")
	p.cli(t, "audit", "list", "--event", "overdue", "--as-of", "tomorrow").wantError(t, 2, "--as-of", "is not a time")
}

func TestAuditShow(t *testing.T) {
	w, id := exchangeOnce(t, "", "CASE-7")
	r := w.parties[us].cli(t, "audit", "show", id).want(t, 0)
	for _, want := range []string{"bundle " + id, "request sent to uk-hmrc, reference CASE-7", "receipt ", "bundle.queued",
		"bundle.claimed", "bundle.uploaded", "receipt.received", "host key SHA256:", "sha256 ", "by              us-cbp"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("our story lacks %q:\n%s", want, r.stdout)
		}
	}
	r = w.parties[uk].cli(t, "audit", "show", id).want(t, 0)
	for _, want := range []string{"request received from us-cbp", "bundle.downloaded", "bundle.filed", "partner's log   head seq ",
		"receipt ", "sent at", "awaiting"} {
		if want == "awaiting" {
			if strings.Contains(r.stdout, want) {
				t.Errorf("the partner awaits nothing for what it received:\n%s", r.stdout)
			}
			continue
		}
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the partner's story lacks %q:\n%s", want, r.stdout)
		}
	}
	r = w.parties[us].cli(t, "audit", "show", "--format", "json", id).want(t, 0)
	if strings.Count(r.stdout, "\n") != 4 {
		t.Errorf("json story:\n%s", r.stdout)
	}
	w.parties[us].cli(t, "audit", "show", "0193b2c4-6d2e-7c1a-9f00-ffffffffffff").wantError(t, 1, "has no record of bundle")
	w.parties[us].cli(t, "audit", "show").wantError(t, 2, "exactly one bundle id")
}

func TestAuditCheckpoint(t *testing.T) {
	w, _ := exchangeOnce(t, "", "CASE-1")
	p := w.parties[us]
	cp := filepath.Join(t.TempDir(), "cp.asc")
	r := p.cli(t, "audit", "checkpoint", "-o", cp).want(t, 0)
	if !strings.Contains(r.stdout, "gpg --verify "+cp) {
		t.Errorf("checkpoint says:\n%s", r.stdout)
	}
	if gpg, err := exec.LookPath("gpg"); err == nil {
		home := t.TempDir()
		pub := filepath.Join(filepath.Dir(p.dir), us+".public.asc")
		out, err := exec.Command(gpg, "--homedir", home, "--batch", "--import", pub).CombinedOutput()
		must(t, errorWith(err, out))
		out, err = exec.Command(gpg, "--homedir", home, "--batch", "--trust-model", "always", "--verify", cp).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Good signature") {
			t.Errorf("gpg --verify %s: %v\n%s", cp, err, out)
		}
		exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
	}
	r = p.cli(t, "audit", "verify", "--checkpoint", cp).want(t, 0)
	if !strings.Contains(r.stdout, "checkpoint OK") || !strings.Contains(r.stdout, p.fp) {
		t.Errorf("verify --checkpoint says:\n%s", r.stdout)
	}
	// An auditor with the log, our public key and the checkpoint only.
	pub := filepath.Join(filepath.Dir(p.dir), us+".public.asc")
	sealpost(t, "audit", "verify", "--dir", p.state("audit"), "--checkpoint", cp, "--key", pub).want(t, 0)
	sealpost(t, "audit", "verify", "--dir", p.state("audit"), "--checkpoint", cp, "--key", pub, "--fingerprint", p.fp).want(t, 0)
	ukPub := filepath.Join(filepath.Dir(p.dir), uk+".public.asc")
	sealpost(t, "audit", "verify", "--dir", p.state("audit"), "--checkpoint", cp, "--key", ukPub).wantError(t, 1, "checkpoint does not check", "not pinned")
	sealpost(t, "audit", "verify", "--dir", p.state("audit"), "--checkpoint", cp).wantError(t, 2, "needs --key")
	p.cli(t, "audit", "verify", "--key", pub).wantError(t, 2, "--key goes with --checkpoint")

	// The log's tail cut off: the chain alone still verifies, the checkpoint does not.
	ls := logLines(t, p)
	must(t, os.WriteFile(p.state("audit", audit.FileName), []byte(strings.Join(ls[:len(ls)-2], "")), 0o600))
	p.cli(t, "audit", "verify").want(t, 0)
	p.cli(t, "audit", "verify", "--checkpoint", cp).wantError(t, 1, "does not hold the checkpoint's head", "has no line seq")

	// A checkpoint whose statement was edited.
	data, err := os.ReadFile(cp)
	must(t, err)
	edited := regexp.MustCompile(`"seq": \d+`).ReplaceAll(data, []byte(`"seq": 1`))
	must(t, os.WriteFile(cp, edited, 0o600))
	p.cli(t, "audit", "verify", "--checkpoint", cp).wantError(t, 1, "checkpoint does not check", "signature")
	p.cli(t, "audit", "verify", "--checkpoint", filepath.Join(t.TempDir(), "missing.asc")).wantError(t, 1, "read checkpoint")

	r = p.cli(t, "audit", "checkpoint", "-o", "-").want(t, 0)
	if !strings.HasPrefix(r.stdout, "-----BEGIN PGP SIGNED MESSAGE-----") {
		t.Errorf("checkpoint -o - printed:\n%s", r.stdout)
	}
	// The first checkpoint's record was in the tail cut off above.
	if n := strings.Count(strings.Join(events(t, p), " "), audit.EvCheckpoint); n != 1 {
		t.Errorf("%d log.checkpoint records", n)
	}
}

func errorWith(err error, out []byte) error {
	if err != nil {
		return &failedError{err.Error() + ": " + string(out)}
	}
	return nil
}

func TestAuditReport(t *testing.T) {
	w, _ := exchangeOnce(t, "", "CASE-1")
	p := w.parties[us]
	out := filepath.Join(t.TempDir(), "report.html")
	r := p.cli(t, "audit", "report", "--html", out, "--since", "7d", "--partner", uk).want(t, 0)
	if !strings.Contains(r.stdout, "report written to "+out) {
		t.Errorf("report says:\n%s", r.stdout)
	}
	html, err := os.ReadFile(out)
	must(t, err)
	for _, want := range []string{"Exchange report of us-cbp with uk-hmrc", "Chain OK", "<svg", `<td>uk-hmrc</td>`} {
		if !strings.Contains(string(html), want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	fi, err := os.Stat(out)
	must(t, err)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("report mode %v", fi.Mode())
	}
	ls := logLines(t, p)
	ls[1] = strings.Replace(ls[1], `"ok"`, `"OK"`, 1)
	must(t, os.WriteFile(p.state("audit", audit.FileName), []byte(strings.Join(ls, "")), 0o600))
	sealpost(t, "audit", "report", "--dir", p.state("audit"), "--html", out).wantError(t, 1, "does not verify", `exchange.jsonl:2: seq 2: bad outcome "OK"`)
	html, err = os.ReadFile(out)
	must(t, err)
	if !strings.Contains(string(html), "Chain BROKEN") {
		t.Error("the report of a broken log does not say so")
	}
	p.cli(t, "audit", "report").wantError(t, 2, "needs -o FILE")
	p.cli(t, "audit", "report", "--html", out, "--until", "soon").wantError(t, 2, "--until")
}

func TestAuditUsage(t *testing.T) {
	for _, args := range [][]string{{"audit", "--help"}, {"audit", "list", "--help"}, {"audit", "show", "--help"},
		{"audit", "verify", "--help"}, {"audit", "checkpoint", "--help"}, {"audit", "report", "--help"}} {
		if r := sealpost(t, args...); r.code != 0 || !strings.Contains(r.stdout, "examples:") {
			t.Errorf("sealpost %s: want exit 0 and examples, got %s", strings.Join(args, " "), r)
		}
	}
	sealpost(t, "audit").wantError(t, 2, "verify, list, show, report, checkpoint")
	sealpost(t, "audit", "prove").wantError(t, 2, `unknown audit subcommand "prove"`)
	sealpost(t, "audit", "list", "--dir", filepath.Join(t.TempDir(), "nope")).wantError(t, 1, "read audit folder")
}

// TestNoReceiptsPartner: with receipts: none (and receipt_due 1s) a bundle
// the partner never receipts is not overdue nor awaited for a receipt in
// status, audit list or audit show, status says there are no receipts from
// this partner, and a receipt that comes anyway is recorded.
func TestNoReceiptsPartner(t *testing.T) {
	w := newCLIWorld(t, "    receipt_due: 1s\n    receipts: none\n")
	p := w.parties[us]
	p.cli(t, "send", "--to", uk, "--ref", "CASE-NR", writeFile(t, t.TempDir(), "a.txt", "a")).want(t, 0)
	p.cli(t, "run").want(t, 0)
	later := time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)

	r := p.cli(t, "audit", "list", "--event", "overdue", "--as-of", later).want(t, 0)
	if strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("overdue as of %s with receipts: none:\n%s", later, r.stdout)
	}
	r = p.cli(t, "audit", "list", "--event", "awaited", "--as-of", later, "--format", "json").want(t, 0)
	var a audit.Awaited
	if err := json.Unmarshal([]byte(r.stdout), &a); err != nil || a.Awaiting != "response" || a.Overdue {
		t.Fatalf("awaited: want only the request's response, not overdue: %v\n%s", err, r.stdout)
	}
	r = p.cli(t, "audit", "show", "--as-of", later, a.Bundle).want(t, 0)
	if strings.Contains(r.stdout, "awaiting a receipt") || !strings.Contains(r.stdout, "awaiting a response: due") {
		t.Errorf("story as of %s:\n%s", later, r.stdout)
	}
	r = p.cli(t, "status").want(t, 0)
	if !strings.Contains(r.stdout, "no receipts from this partner") || strings.Contains(r.stdout, "OVERDUE") {
		t.Errorf("status:\n%s", r.stdout)
	}
	r = p.cli(t, "status", "--json").want(t, 0)
	var sts []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &sts); err != nil || len(sts) != 1 || sts[0]["receipts"] != "none" {
		t.Fatalf("status --json: %v\n%s", err, r.stdout)
	}
	if aw, _ := sts[0]["awaiting_receipt"].([]any); len(aw) != 0 {
		t.Errorf("status --json awaits a receipt: %s", r.stdout)
	}

	// The partner (a sealpost) receipts it anyway: recorded as ever.
	w.parties[uk].cli(t, "run").want(t, 0)
	p.cli(t, "run").want(t, 0)
	r = p.cli(t, "audit", "list", "--event", "receipt.received", "--format", "json").want(t, 0)
	if strings.Count(r.stdout, "\n") != 1 || !strings.Contains(r.stdout, a.Bundle) {
		t.Errorf("receipt.received records:\n%s", r.stdout)
	}
}
