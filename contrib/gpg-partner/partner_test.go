package gpgpartner_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/testworld"
)

func TestMain(m *testing.M) { os.Exit(testworld.Main(m)) }

// partner is the side without sealpost: its gpg home, the drop's sftp
// options, and the folder of the scripts.
type partner struct {
	t     *testing.T
	home  string // GNUPGHOME: the partner's secret key and our public key
	sftp  string // SFTP_OPTS for sftp-put.sh and sftp-get.sh
	dest  string // user@host
	files string // the partner's working folder
}

// requireTools skips the test when a tool the scripts need is missing,
// and fails it under CI.
func requireTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"bash", "gpg", "gpgconf", "tar", "sha256sum", "jq", "sftp", "od"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is required under CI: %v", tool, err)
			}
			t.Skipf("%s not installed: %v", tool, err)
		}
	}
}

// gpgHome makes a GnuPG home (a short path, for gpg-agent's socket)
// holding the given key files.
func gpgHome(t *testing.T, keys ...string) string {
	t.Helper()
	home, err := os.MkdirTemp("", "gpg")
	must(t, err)
	must(t, os.Chmod(home, 0o700))
	t.Cleanup(func() {
		c := exec.Command("gpgconf", "--kill", "all")
		c.Env = append(os.Environ(), "GNUPGHOME="+home)
		c.Run()
		os.RemoveAll(home)
	})
	for _, k := range keys {
		c := exec.Command("gpg", "--batch", "--no-tty", "--import", k)
		c.Env = append(os.Environ(), "GNUPGHOME="+home)
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("gpg --import %s: %v\n%s", k, err, out)
		}
	}
	return home
}

// gpgKey makes an ed25519 + cv25519 key for id in home as
// docs/partner-without-sealpost.md does (without a passphrase), exports
// its public key to file and returns its fingerprint.
func gpgKey(t *testing.T, home, id, file string) string {
	t.Helper()
	run := func(args ...string) string {
		c := exec.Command("gpg", append([]string{"--batch", "--no-tty"}, args...)...)
		c.Env = append(os.Environ(), "GNUPGHOME="+home)
		out, err := c.Output()
		if err != nil {
			t.Fatalf("gpg %s: %v", strings.Join(args, " "), err)
		}
		return string(out)
	}
	run("--passphrase", "", "--quick-generate-key", id, "future-default", "default", "never")
	must(t, os.WriteFile(file, []byte(run("--armor", "--export", id)), 0o644))
	for _, line := range strings.Split(run("--with-colons", "--list-secret-keys", id), "\n") {
		if f := strings.Split(line, ":"); f[0] == "fpr" {
			return f[9]
		}
	}
	t.Fatalf("gpg made no key for %s", id)
	return ""
}

// script runs one of the scripts as the partner and returns its stdout,
// failing the test when it does not exit 0.
func (p *partner) script(name string, args ...string) string {
	p.t.Helper()
	out, err := p.try(nil, name, args...)
	if err != nil {
		p.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(out)
}

// try runs a script with extra environment and returns its combined output.
func (p *partner) try(env []string, name string, args ...string) (string, error) {
	cmd := exec.Command("./"+name, args...)
	cmd.Env = append(append(os.Environ(), "GNUPGHOME="+p.home, "SFTP_OPTS="+p.sftp), env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

// sealpost runs our side's command and fails the test unless it exits 0.
func sealpost(t *testing.T, cfg string, args ...string) string {
	t.Helper()
	out, err := exec.Command(testworld.Binary(t), append([]string{"--config", cfg}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("sealpost %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// openedManifest is what the test checks of an opened bundle's manifest.json.
type openedManifest struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	InReplyTo string `json:"in_reply_to"`
	Receipt   struct {
		For    string `json:"for"`
		Status string `json:"status"`
	} `json:"receipt"`
}

// manifest reads the manifest.json of a bundle opened into dir.
func manifest(t *testing.T, dir string) openedManifest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	must(t, err)
	var m openedManifest
	must(t, json.Unmarshal(data, &m))
	return m
}

// TestPartnerWithoutSealpost follows docs/partner-without-sealpost.md:
// we send a request over a real sshd; the partner, with the scripts only,
// fetches and checks it, answers with a response and a receipt and
// uploads both; our next run files the response, records the receipt and
// sends a receipt back, which the partner reads too.
func TestPartnerWithoutSealpost(t *testing.T) {
	t.Parallel()
	requireTools(t)
	srv := testworld.OpenSSH(t)
	w := testworld.New(t, srv, testworld.Options{}, "us", "partner")
	us, them := w["us"], w["partner"]
	base := filepath.Dir(us.Dir)
	host, port, _ := strings.Cut(srv.Addr, ":")
	// The partner makes its key with gpg as the docs say; we pin it.
	home := gpgHome(t, filepath.Join(base, "us.public.asc"))
	fpr := gpgKey(t, home, "partner", filepath.Join(base, "partner.public.asc"))
	cfg, err := os.ReadFile(us.Config)
	must(t, err)
	must(t, os.WriteFile(us.Config, []byte(strings.ReplaceAll(string(cfg), them.Fingerprint, fpr)), 0o600))
	p := &partner{t: t, home: home,
		sftp: "-P " + port + " -i " + srv.ClientKey + " -o UserKnownHostsFile=" + srv.KnownHosts +
			" -o StrictHostKeyChecking=yes -o BatchMode=yes",
		dest: srv.User + "@" + host, files: t.TempDir()}
	inDrop, outDrop := srv.RemoteRoot+"/us-to-partner", srv.RemoteRoot+"/partner-to-us"

	// We send a request.
	question := filepath.Join(t.TempDir(), "question.txt")
	must(t, os.WriteFile(question, []byte("what is the status of CASE-7?\n"), 0o600))
	sealpost(t, us.Config, "send", "--to", "partner", "--ref", "CASE-7", question)
	sealpost(t, us.Config, "run")

	// The partner fetches it and checks it.
	got := p.script("sftp-get.sh", p.dest, inDrop, p.files)
	if !strings.Contains(got, "us_partner_request_") || strings.Contains(got, "\n") {
		t.Fatalf("sftp-get.sh fetched %q, want one request", got)
	}
	if left, _ := os.ReadDir(filepath.Join(srv.Root, "us-to-partner")); len(left) != 0 {
		t.Errorf("sftp-get.sh left %d files on the drop", len(left))
	}
	opened := filepath.Join(p.files, "request")
	p.script("open-bundle.sh", got, opened, us.Fingerprint)
	req := manifest(t, opened)
	if data, err := os.ReadFile(filepath.Join(opened, "payload", "question.txt")); err != nil || string(data) != "what is the status of CASE-7?\n" {
		t.Fatalf("the request's payload: %q, %v", data, err)
	}

	// The partner answers with a response and a receipt and uploads both.
	answer := filepath.Join(p.files, "answer.txt")
	must(t, os.WriteFile(answer, []byte("CASE-7 is closed.\n"), 0o600))
	outbox := filepath.Join(p.files, "out")
	must(t, os.Mkdir(outbox, 0o700))
	resp, err := p.try([]string{"IN_REPLY_TO=" + req.ID, "REFERENCE=CASE-7"}, "make-bundle.sh", "response", "partner", "us", us.Fingerprint, outbox, answer)
	if err != nil {
		t.Fatalf("make-bundle.sh: %v\n%s", err, resp)
	}
	resp = strings.TrimSpace(resp)
	rcpt := p.script("make-receipt.sh", "partner", "us", us.Fingerprint, outbox, got, req.ID)
	p.script("sftp-put.sh", p.dest, outDrop, resp, rcpt)

	// Our run files the response and records the receipt.
	sealpost(t, us.Config, "run")
	respID := strings.TrimSuffix(filepath.Base(resp)[len("partner_us_response_"):], ".pgp")
	filed := filepath.Join(us.Dir, "state", "inbox", "partner", respID, "payload", "answer.txt")
	if data, err := os.ReadFile(filed); err != nil || string(data) != "CASE-7 is closed.\n" {
		t.Fatalf("the response in our inbox: %q, %v", data, err)
	}
	checkReceipt(t, filepath.Join(us.Dir, "state", "audit", "exchange.jsonl"), req.ID, "ok")

	// Our receipt for the response: the partner reads it with the same script.
	got = p.script("sftp-get.sh", p.dest, inDrop, p.files)
	if !strings.Contains(got, "us_partner_receipt_") || strings.Contains(got, "\n") {
		t.Fatalf("sftp-get.sh fetched %q, want our receipt", got)
	}
	opened = filepath.Join(p.files, "receipt")
	p.script("open-bundle.sh", got, opened, us.Fingerprint)
	if r := manifest(t, opened); r.Kind != "receipt" || r.Receipt.For != respID || r.Receipt.Status != "filed" {
		t.Errorf("our receipt: kind %s for %s status %s, want a filed receipt for %s", r.Kind, r.Receipt.For, r.Receipt.Status, respID)
	}

	// A bundle the partner refuses: its receipt names the file and a code.
	sealpost(t, us.Config, "send", "--to", "partner", "--ref", "CASE-8", question)
	sealpost(t, us.Config, "run")
	got = p.script("sftp-get.sh", p.dest, inDrop, p.files)
	name := filepath.Base(got)
	id := strings.TrimSuffix(strings.TrimPrefix(name, "us_partner_request_"), ".pgp")
	rcpt = p.script("make-receipt.sh", "partner", "us", us.Fingerprint, outbox, got, name, "manifest", "payload/question.txt is not what we expected")
	p.script("sftp-put.sh", p.dest, outDrop, rcpt)
	sealpost(t, us.Config, "run")
	checkReceipt(t, filepath.Join(us.Dir, "state", "audit", "exchange.jsonl"), id, "rejected")
}

// checkReceipt fails unless the exchange log has a receipt.received record
// answering bundle id with the outcome (ok: it matches what we sent).
func checkReceipt(t *testing.T, log, id, outcome string) {
	t.Helper()
	data, err := os.ReadFile(log)
	must(t, err)
	for _, line := range strings.Split(string(data), "\n") {
		var r struct {
			Event     string `json:"event"`
			Outcome   string `json:"outcome"`
			InReplyTo string `json:"in_reply_to"`
		}
		if json.Unmarshal([]byte(line), &r) != nil {
			continue
		}
		if r.Event == "receipt.received" && r.InReplyTo == id && r.Outcome == outcome {
			return
		}
	}
	t.Errorf("no receipt.received record for %s with outcome %s in the exchange log:\n%s", id, outcome, data)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
