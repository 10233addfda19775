package exchange_test

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/exchange"
	"github.com/sealpost/sealpost/exchange/audit"
)

// gnupg is a partner that has only GnuPG and tar: its own keyring in a
// temporary GNUPGHOME holding its secret key and our public key.
type gnupg struct {
	t    *testing.T
	home string
}

// requireGnuPG skips the test when gpg is missing (fails under CI).
func requireGnuPG(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"gpg", "tar", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is required under CI: %v", tool, err)
			}
			t.Skipf("%s not installed: %v", tool, err)
		}
	}
}

// newGnuPG makes a keyring for party s holding its secret key and the
// public keys of others.
func newGnuPG(t *testing.T, s *side, others ...*side) *gnupg {
	t.Helper()
	// A short path: gpg-agent's socket path must fit in sun_path.
	home, err := os.MkdirTemp("", "gpg")
	must(t, err)
	must(t, os.Chmod(home, 0o700))
	g := &gnupg{t: t, home: home}
	t.Cleanup(func() {
		c := exec.Command("gpgconf", "--kill", "all")
		c.Env = g.env()
		c.Run()
		os.RemoveAll(home)
	})
	g.gpg("--import", filepath.Join(s.dir, "keys", s.id+".secret.asc"))
	for _, o := range others {
		g.gpg("--import", filepath.Join(filepath.Dir(o.dir), o.id+".public.asc"))
	}
	return g
}

func (g *gnupg) env() []string { return append(os.Environ(), "GNUPGHOME="+g.home) }

// gpg runs gpg --batch with args and returns its stdout.
func (g *gnupg) gpg(args ...string) string {
	g.t.Helper()
	cmd := exec.Command("gpg", append([]string{"--batch", "--no-tty", "--trust-model", "always"}, args...)...)
	cmd.Env = g.env()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		g.t.Fatalf("gpg %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// decrypt runs `gpg --decrypt FILE | tar -x -C dir` exactly as a partner
// without sealpost would, and returns gpg's status lines. It also checks
// that the tar stream ends with manifest.json.
func (g *gnupg) decrypt(file, dir string) string {
	g.t.Helper()
	must(g.t, os.MkdirAll(dir, 0o700))
	status := filepath.Join(g.t.TempDir(), "status")
	cmd := exec.Command("bash", "-o", "pipefail", "-c",
		`gpg --batch --no-tty --trust-model always --status-fd 3 --decrypt "$1" 3>"$2" | tar -x -C "$3"`,
		"sh", file, status, dir)
	cmd.Env = g.env()
	if out, err := cmd.CombinedOutput(); err != nil {
		st, _ := os.ReadFile(status)
		g.t.Fatalf("gpg --decrypt %s | tar -x: %v\n%s\nstatus:\n%s", file, err, out, st)
	}
	st, err := os.ReadFile(status)
	must(g.t, err)

	// The tar stream itself: manifest.json is the last entry, only files and folders.
	plain := filepath.Join(g.t.TempDir(), "bundle.tar")
	g.gpg("--quiet", "-o", plain, "--decrypt", file)
	f, err := os.Open(plain)
	must(g.t, err)
	defer f.Close()
	tr := tar.NewReader(f)
	var last string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(g.t, err)
		if h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeDir {
			g.t.Errorf("tar entry %s has type %c", h.Name, h.Typeflag)
		}
		last = h.Name
	}
	if last != "manifest.json" {
		g.t.Errorf("the last tar entry is %q, want manifest.json", last)
	}
	return string(st)
}

// checkStatus checks that gpg's status shows a good signature by fpr and a
// message whose integrity protection checked.
func checkStatus(t *testing.T, status, fpr string) {
	t.Helper()
	valid := false
	for _, line := range strings.Split(status, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[1] == "VALIDSIG" && (strings.EqualFold(f[2], fpr) || strings.EqualFold(f[len(f)-1], fpr)) {
			valid = true
		}
	}
	if !valid {
		t.Errorf("gpg status has no VALIDSIG by %s:\n%s", fpr, status)
	}
	for _, want := range []string{"[GNUPG:] DECRYPTION_OKAY", "[GNUPG:] GOODSIG ", "[GNUPG:] GOODMDC"} {
		if !strings.Contains(status, want) {
			t.Errorf("gpg status lacks %q:\n%s", want, status)
		}
	}
	for _, bad := range []string{"BADSIG", "ERRSIG", "DECRYPTION_FAILED", "BADMDC"} {
		if strings.Contains(status, bad) {
			t.Errorf("gpg status has %s:\n%s", bad, status)
		}
	}
}

// gpgManifest is the manifest as a partner writes it by hand.
type gpgManifest struct {
	Format    string    `json:"format"`
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	Sender    string    `json:"sender"`
	Recipient string    `json:"recipient"`
	Created   string    `json:"created"`
	Reference string    `json:"reference"`
	InReplyTo string    `json:"in_reply_to"`
	Files     []gpgFile `json:"files"`
	Receipt   *struct {
		For              string `json:"for"`
		CiphertextSHA256 string `json:"ciphertext_sha256"`
		Status           string `json:"status"`
		Code             string `json:"code"`
	} `json:"receipt,omitempty"`
}

type gpgFile struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// uuid7 makes a UUIDv7 the way any partner's tool could.
func uuid7(t *testing.T) string {
	var b [16]byte
	_, err := rand.Read(b[:])
	must(t, err)
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(time.Now().UnixMilli()))
	copy(b[:6], ms[2:])
	b[6] = 0x70 | b[6]&0x0f
	b[8] = 0x80 | b[8]&0x3f
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// uuid4 is a random (version 4) UUID, as uuidgen makes.
func uuid4(t *testing.T) string {
	var b [16]byte
	_, err := rand.Read(b[:])
	must(t, err)
	b[6] = 0x40 | b[6]&0x0f
	b[8] = 0x80 | b[8]&0x3f
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func sha256Hex(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// TestGnuPGPartner exchanges with a partner that runs only GnuPG and tar:
// it reads our request with `gpg --decrypt | tar -x`, answers with a
// response it makes by hand with tar and gpg, and reads our receipt.
func TestGnuPGPartner(t *testing.T) {
	t.Parallel()
	requireGnuPG(t)
	for _, tc := range []struct {
		name    string
		extra   string   // our partner block
		gpgArgs []string // how the partner seals its response
		tarArgs []string // how the partner makes its tar
		table   string   // path of its second payload file, under payload/
		members []string // the tar's members in order; nil: payload, then manifest.json
		uuid4   bool     // the response's id is a random (version 4) UUID
	}{
		{"binary", "", []string{"--compress-algo", "none"}, nil, "tables/t1.csv", nil, false},
		{"armor-compressed", "pgp:\n  armor: true\n", []string{"--armor"}, nil, "tables/t1.csv", nil, false},
		{"binary-compressed", "", nil, nil, "tables/t1.csv", nil, false},
		{"zlib-rfc4880", "pgp:\n  compression: zlib\n  profile: rfc4880\n", []string{"--compress-algo", "zlib"}, nil, "tables/t1.csv", nil, false},
		// pax headers: a path over 100 bytes and a non-ASCII name.
		{"pax", "", []string{"-z", "0"}, []string{"--format=pax"}, "tables/" + strings.Repeat("long-folder-name/", 8) + "tableau-récapitulatif.csv", nil, false},
		// What a careful partner's shell does: manifest.json first
		// (tar -cf - manifest.json payload), gpg's default compression and a
		// random UUID from uuidgen.
		{"manifest-first-uuid4", "", nil, nil, "tables/t1.csv", []string{"manifest.json", "payload"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, loopbackServer(t), tc.extra, us, uk)
			armor := strings.Contains(tc.extra, "armor: true")
			ext := ".pgp"
			if armor {
				ext = ".asc"
			}
			ours, theirs := w.sides[us], w.sides[uk]
			g := newGnuPG(t, theirs, ours)

			// (a) Our request, read with gpg and tar alone.
			files := map[string]string{"request.txt": "please send the records", "evidence/scan/p1.txt": "page 1\n"}
			w.send(us, uk, "CASE-2026-0042", "", files)
			if res := w.run(us, uk); res.Pushed != 1 {
				t.Fatalf("pushed %d, want 1", res.Pushed)
			}
			drop := w.drop(us, uk)
			if len(drop) != 1 || !strings.HasSuffix(drop[0], ext) {
				t.Fatalf("drop holds %v, want one %s file", drop, ext)
			}
			dropFile := filepath.Join(w.srv.root, us+"-to-"+uk, drop[0])
			if armor {
				data, err := os.ReadFile(dropFile)
				must(t, err)
				if !bytes.HasPrefix(data, []byte("-----BEGIN PGP MESSAGE-----")) {
					t.Fatalf("%s is not armoured", drop[0])
				}
			}
			out := filepath.Join(t.TempDir(), "request")
			checkStatus(t, g.decrypt(dropFile, out), ours.fp)
			var req gpgManifest
			readJSONFile(t, filepath.Join(out, "manifest.json"), &req)
			if req.Format != "sealpost-bundle/1" || req.Kind != "request" || req.Sender != us || req.Recipient != uk ||
				req.Reference != "CASE-2026-0042" || len(req.Files) != len(files) {
				t.Fatalf("request manifest %+v", req)
			}
			if want := fmt.Sprintf("%s_%s_request_%s%s", us, uk, req.ID, ext); drop[0] != want {
				t.Errorf("drop name %s, want %s", drop[0], want)
			}
			for _, f := range req.Files {
				data, err := os.ReadFile(filepath.Join(out, f.Path))
				must(t, err)
				if files[strings.TrimPrefix(f.Path, "payload/")] != string(data) || int64(len(data)) != f.Size || sha256Hex(data) != f.SHA256 {
					t.Errorf("payload %s: %q does not match the manifest %+v", f.Path, data, f)
				}
			}
			checkPayload(t, out, map[string]string{"payload/request.txt": files["request.txt"],
				"payload/evidence/scan/p1.txt": files["evidence/scan/p1.txt"]})
			must(t, os.Remove(dropFile)) // the partner takes it off its drop

			// (b) The partner's response, made by hand.
			work := t.TempDir()
			answer := []byte("records attached\n")
			table := []byte("a,b\n1,2\n")
			must(t, os.MkdirAll(filepath.Dir(filepath.Join(work, "payload", tc.table)), 0o755))
			must(t, os.WriteFile(filepath.Join(work, "payload", "answer.txt"), answer, 0o644))
			must(t, os.WriteFile(filepath.Join(work, "payload", tc.table), table, 0o644))
			id := uuid7(t)
			if tc.uuid4 {
				id = uuid4(t)
			}
			resp := gpgManifest{Format: "sealpost-bundle/1", ID: id, Kind: "response", Sender: uk, Recipient: us,
				Created: time.Now().UTC().Format(time.RFC3339), Reference: "CASE-2026-0042", InReplyTo: req.ID,
				Files: []gpgFile{
					{Path: "payload/answer.txt", Size: int64(len(answer)), SHA256: sha256Hex(answer)},
					{Path: "payload/" + tc.table, Size: int64(len(table)), SHA256: sha256Hex(table)},
				}}
			mj, err := json.MarshalIndent(resp, "", "  ")
			must(t, err)
			must(t, os.WriteFile(filepath.Join(work, "manifest.json"), mj, 0o644))
			members := tc.members
			if members == nil {
				members = []string{"payload", "manifest.json"}
			}
			tarCmd := exec.Command("tar", append(append(tc.tarArgs, "-cf", "bundle.tar"), members...)...)
			tarCmd.Dir = work
			if out, err := tarCmd.CombinedOutput(); err != nil {
				t.Fatalf("tar: %v\n%s", err, out)
			}
			respExt := ".pgp"
			if contains(tc.gpgArgs, "--armor") {
				respExt = ".asc"
			}
			name := fmt.Sprintf("%s_%s_response_%s%s", uk, us, resp.ID, respExt)
			sealed := filepath.Join(work, name)
			args := append([]string{"--sign", "--encrypt", "-r", ours.fp, "-u", theirs.fp, "--digest-algo", "SHA256"}, tc.gpgArgs...)
			g.gpg(append(args, "-o", sealed, filepath.Join(work, "bundle.tar"))...)
			data, err := os.ReadFile(sealed)
			must(t, err)
			must(t, os.WriteFile(filepath.Join(w.srv.root, uk+"-to-"+us, name), data, 0o644))

			res := w.run(us, uk)
			if res.Filed != 1 || res.Refused != 0 || res.Pushed != 1 {
				t.Fatalf("our run filed %d, refused %d, pushed %d; want 1, 0 and 1 (the receipt); quarantine %v",
					res.Filed, res.Refused, res.Pushed, names(t, ours.state("quarantine", uk)))
			}
			inbox := ours.state("inbox", uk, resp.ID)
			checkPayload(t, inbox, map[string]string{"payload/answer.txt": string(answer), "payload/" + tc.table: string(table)})
			filed := w.records(us, audit.EvFiled)
			if len(filed) != 1 || filed[0].Bundle != resp.ID || filed[0].InReplyTo != req.ID ||
				filed[0].Detail != "answers request "+req.ID || filed[0].SHA256 != sha256Hex(data) {
				t.Fatalf("filed records %+v; want response %s answering request %s", filed, resp.ID, req.ID)
			}
			if got := w.drop(uk, us); len(got) != 0 {
				t.Fatalf("the partner's drop still holds %v", got)
			}
			st, err := ours.eng.Status(uk)
			must(t, err)
			if len(st[0].AwaitingResponse) != 0 {
				t.Errorf("still awaiting a response: %+v", st[0].AwaitingResponse)
			}

			// Our receipt, read by the partner with gpg and tar.
			drop = w.drop(us, uk)
			if len(drop) != 1 || !strings.HasPrefix(drop[0], us+"_"+uk+"_receipt_") || !strings.HasSuffix(drop[0], ext) {
				t.Fatalf("drop holds %v, want our receipt", drop)
			}
			rout := filepath.Join(t.TempDir(), "receipt")
			checkStatus(t, g.decrypt(filepath.Join(w.srv.root, us+"-to-"+uk, drop[0]), rout), ours.fp)
			var rc gpgManifest
			readJSONFile(t, filepath.Join(rout, "manifest.json"), &rc)
			if rc.Kind != "receipt" || rc.Sender != us || rc.Recipient != uk || rc.InReplyTo != resp.ID || rc.Receipt == nil ||
				rc.Receipt.For != resp.ID || rc.Receipt.Status != "filed" || rc.Receipt.CiphertextSHA256 != sha256Hex(data) {
				t.Fatalf("receipt manifest %s", mustRead(t, filepath.Join(rout, "manifest.json")))
			}
			if got := names(t, filepath.Join(rout, "payload")); len(got) != 0 {
				t.Errorf("the receipt carries a payload: %v", got)
			}
		})
	}
}

// TestGnuPGPartnerRefused checks that a bundle the partner makes by hand
// but gets wrong (a payload that does not match its manifest, or one not
// signed) is quarantined with a rejected receipt the partner can read.
func TestGnuPGPartnerRefused(t *testing.T) {
	t.Parallel()
	requireGnuPG(t)
	w := newWorld(t, loopbackServer(t), "", us, uk)
	ours, theirs := w.sides[us], w.sides[uk]
	g := newGnuPG(t, theirs, ours)

	seal := func(body []byte, sign bool) string {
		work := t.TempDir()
		must(t, os.MkdirAll(filepath.Join(work, "payload"), 0o755))
		must(t, os.WriteFile(filepath.Join(work, "payload", "a.txt"), body, 0o644))
		m := gpgManifest{Format: "sealpost-bundle/1", ID: uuid7(t), Kind: "request", Sender: uk, Recipient: us,
			Created: time.Now().UTC().Format(time.RFC3339), Reference: "bad",
			Files: []gpgFile{{Path: "payload/a.txt", Size: 5, SHA256: sha256Hex([]byte("hello"))}}}
		mj, err := json.Marshal(m)
		must(t, err)
		must(t, os.WriteFile(filepath.Join(work, "manifest.json"), mj, 0o644))
		c := exec.Command("tar", "-cf", "bundle.tar", "payload", "manifest.json")
		c.Dir = work
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("tar: %v\n%s", err, out)
		}
		name := fmt.Sprintf("%s_%s_request_%s.pgp", uk, us, m.ID)
		args := []string{"--encrypt", "-r", ours.fp, "-z", "0"}
		if sign {
			args = append(args, "--sign", "-u", theirs.fp)
		}
		g.gpg(append(args, "-o", filepath.Join(w.srv.root, uk+"-to-"+us, name), filepath.Join(work, "bundle.tar"))...)
		return m.ID
	}
	seal([]byte("HELLO"), true) // same size, other bytes
	seal([]byte("hello"), false)

	res := w.sides[us].eng.RunPartner(t.Context(), exchange.RunOptions{Partner: uk})
	if res.Filed != 0 || res.Refused != 2 || res.Pushed != 2 {
		t.Fatalf("filed %d, refused %d, pushed %d; want 0, 2, 2 (two rejected receipts); err %v",
			res.Filed, res.Refused, res.Pushed, res.Err)
	}
	codes := map[string]bool{}
	for _, n := range w.drop(us, uk) {
		out := filepath.Join(t.TempDir(), "r")
		checkStatus(t, g.decrypt(filepath.Join(w.srv.root, us+"-to-"+uk, n), out), ours.fp)
		var rc gpgManifest
		readJSONFile(t, filepath.Join(out, "manifest.json"), &rc)
		if rc.Receipt == nil || rc.Receipt.Status != "rejected" {
			t.Fatalf("receipt %s: %+v", n, rc)
		}
		codes[rc.Receipt.Code] = true
	}
	if !codes["manifest"] || !codes["unsigned"] {
		t.Errorf("receipt codes %v, want manifest (sha256 mismatch) and unsigned", codes)
	}
}
