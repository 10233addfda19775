package exchange_test

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/exchange/audit"
)

// pgpTool is a partner's OpenPGP tool other than GnuPG: it seals a file
// (sign, then encrypt to us) and opens one of ours (decrypt, verifying our
// signature), each with the tool's own defaults.
type pgpTool struct {
	name string
	// seal signs in with the partner's key and encrypts it to ours into
	// out; extra are further options (none: the tool's defaults).
	seal func(t *testing.T, in, out string, extra ...string)
	// open decrypts in into out and fails the test unless our signature
	// on it is good.
	open func(t *testing.T, in, out string)
}

// requireTools skips the test when a tool is missing (fails under CI).
func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is required under CI: %v", tool, err)
			}
			t.Skipf("%s not installed: %v", tool, err)
		}
	}
}

// runTool runs a tool and returns its stderr; it fails the test when the
// tool fails.
func runTool(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stderr.String()
}

// sequoia is a partner using Sequoia's sq with key files: its secret key
// and our certificate.
func sequoia(t *testing.T, theirs, ours *side) pgpTool {
	secret := filepath.Join(theirs.dir, "keys", theirs.id+".secret.asc")
	cert := filepath.Join(filepath.Dir(ours.dir), ours.id+".public.asc")
	env := append(os.Environ(), "SEQUOIA_HOME="+t.TempDir())
	return pgpTool{
		name: "sq",
		seal: func(t *testing.T, in, out string, extra ...string) {
			args := append([]string{"encrypt", "--recipient-cert", cert, "--signer-key", secret, "-o", out}, extra...)
			runTool(t, env, "sq", append(args, in)...)
		},
		open: func(t *testing.T, in, out string) {
			// sq decrypt fails unless a signature by --signer-cert is good.
			runTool(t, env, "sq", "decrypt", "--recipient-key", secret, "--signer-cert", cert, "-o", out, in)
		},
	}
}

// rnpTool is a partner using rnp with its own keyring: its secret key and
// our public key imported into a temporary --homedir.
func rnpTool(t *testing.T, theirs, ours *side) pgpTool {
	home := t.TempDir()
	env := os.Environ()
	runTool(t, env, "rnpkeys", "--homedir", home, "--import", filepath.Join(theirs.dir, "keys", theirs.id+".secret.asc"))
	runTool(t, env, "rnpkeys", "--homedir", home, "--import", filepath.Join(filepath.Dir(ours.dir), ours.id+".public.asc"))
	return pgpTool{
		name: "rnp",
		seal: func(t *testing.T, in, out string, extra ...string) {
			args := append([]string{"--homedir", home, "--notty", "--encrypt", "--sign",
				"-r", ours.fp, "-u", theirs.fp, "--output", out}, extra...)
			runTool(t, env, "rnp", append(args, in)...)
		},
		open: func(t *testing.T, in, out string) {
			stderr := runTool(t, env, "rnp", "--homedir", home, "--notty", "--decrypt", "--output", out, in)
			// rnp decrypts unsigned data without complaint: the signature
			// must be reported good, and by our key.
			if !strings.Contains(stderr, "Good signature") || strings.Contains(stderr, "BAD signature") ||
				!strings.Contains(strings.ToLower(strings.ReplaceAll(stderr, " ", "")), ours.fp[len(ours.fp)-16:]) {
				t.Fatalf("rnp --decrypt %s does not report a good signature by %s:\n%s", in, ours.fp, stderr)
			}
		},
	}
}

// openBundle opens a sealed bundle of ours with tool and untars it into
// dir with tar -x; it checks that manifest.json is the last tar entry and
// returns the manifest.
func openBundle(t *testing.T, tool pgpTool, file, dir string) gpgManifest {
	t.Helper()
	plain := filepath.Join(t.TempDir(), "bundle.tar")
	tool.open(t, file, plain)
	f, err := os.Open(plain)
	must(t, err)
	defer f.Close()
	tr := tar.NewReader(f)
	var last string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(t, err)
		if h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeDir {
			t.Errorf("tar entry %s has type %c", h.Name, h.Typeflag)
		}
		last = h.Name
	}
	if last != "manifest.json" {
		t.Errorf("the last tar entry is %q, want manifest.json", last)
	}
	must(t, os.MkdirAll(dir, 0o700))
	if out, err := exec.Command("tar", "-x", "-C", dir, "-f", plain).CombinedOutput(); err != nil {
		t.Fatalf("tar -x %s: %v\n%s", plain, err, out)
	}
	var m gpgManifest
	readJSONFile(t, filepath.Join(dir, "manifest.json"), &m)
	return m
}

// TestOtherToolsPartner exchanges with partners that use OpenPGP tools
// other than GnuPG: Sequoia's sq and rnp, each with its defaults (sq:
// armoured, padded with ZIP compression, SHA-512; rnp: binary, ZIP, SHA-256)
// and with the other encoding. The partner reads our request with the tool
// and tar, answers with a response it seals by hand, and reads our receipt.
func TestOtherToolsPartner(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		tools []string
		make  func(t *testing.T, theirs, ours *side) pgpTool
		extra []string // options for sealing the response
		ext   string   // what that writes: ".asc" armoured, ".pgp" binary
	}{
		{"sq", []string{"sq", "tar"}, sequoia, nil, ".asc"},
		{"sq-binary", []string{"sq", "tar"}, sequoia, []string{"--binary"}, ".pgp"},
		{"rnp", []string{"rnp", "rnpkeys", "tar"}, rnpTool, nil, ".pgp"},
		{"rnp-armor", []string{"rnp", "rnpkeys", "tar"}, rnpTool, []string{"--armor"}, ".asc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			requireTools(t, tc.tools...)
			w := newWorld(t, loopbackServer(t), "", us, uk)
			ours, theirs := w.sides[us], w.sides[uk]
			tool := tc.make(t, theirs, ours)

			// (a) Our request, read with the tool and tar.
			files := map[string]string{"request.txt": "please send the records", "evidence/scan/p1.txt": "page 1\n"}
			w.send(us, uk, "CASE-2026-0042", "", files)
			if res := w.run(us, uk); res.Pushed != 1 {
				t.Fatalf("pushed %d, want 1", res.Pushed)
			}
			drop := w.drop(us, uk)
			if len(drop) != 1 {
				t.Fatalf("drop holds %v, want one file", drop)
			}
			dropFile := filepath.Join(w.srv.root, us+"-to-"+uk, drop[0])
			out := filepath.Join(t.TempDir(), "request")
			req := openBundle(t, tool, dropFile, out)
			if req.Format != "sealpost-bundle/1" || req.Kind != "request" || req.Sender != us || req.Recipient != uk ||
				req.Reference != "CASE-2026-0042" || len(req.Files) != len(files) {
				t.Fatalf("request manifest %+v", req)
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
			must(t, os.Remove(dropFile))

			// (b) The partner's response, tarred by hand and sealed by the tool.
			work := t.TempDir()
			answer := []byte("records attached\n")
			table := []byte("a,b\n1,2\n")
			must(t, os.MkdirAll(filepath.Join(work, "payload", "tables"), 0o755))
			must(t, os.WriteFile(filepath.Join(work, "payload", "answer.txt"), answer, 0o644))
			must(t, os.WriteFile(filepath.Join(work, "payload", "tables", "t1.csv"), table, 0o644))
			resp := gpgManifest{Format: "sealpost-bundle/1", ID: uuid7(t), Kind: "response", Sender: uk, Recipient: us,
				Created: time.Now().UTC().Format(time.RFC3339), Reference: "CASE-2026-0042", InReplyTo: req.ID,
				Files: []gpgFile{
					{Path: "payload/answer.txt", Size: int64(len(answer)), SHA256: sha256Hex(answer)},
					{Path: "payload/tables/t1.csv", Size: int64(len(table)), SHA256: sha256Hex(table)},
				}}
			mj, err := json.MarshalIndent(resp, "", "  ")
			must(t, err)
			must(t, os.WriteFile(filepath.Join(work, "manifest.json"), mj, 0o644))
			tarCmd := exec.Command("tar", "-cf", "bundle.tar", "payload", "manifest.json")
			tarCmd.Dir = work
			if out, err := tarCmd.CombinedOutput(); err != nil {
				t.Fatalf("tar: %v\n%s", err, out)
			}
			name := fmt.Sprintf("%s_%s_response_%s%s", uk, us, resp.ID, tc.ext)
			sealed := filepath.Join(work, name)
			tool.seal(t, filepath.Join(work, "bundle.tar"), sealed, tc.extra...)
			data, err := os.ReadFile(sealed)
			must(t, err)
			if armored := bytes.HasPrefix(data, []byte("-----BEGIN PGP MESSAGE-----")); armored != (tc.ext == ".asc") {
				t.Fatalf("%s wrote armoured=%v, the test expects %s", tool.name, armored, tc.ext)
			}
			must(t, os.WriteFile(filepath.Join(w.srv.root, uk+"-to-"+us, name), data, 0o644))

			res := w.run(us, uk)
			if res.Filed != 1 || res.Refused != 0 || res.Pushed != 1 {
				t.Fatalf("our run filed %d, refused %d, pushed %d; want 1, 0 and 1 (the receipt); quarantine %v; refused records %+v",
					res.Filed, res.Refused, res.Pushed, names(t, ours.state("quarantine", uk)), w.records(us, audit.EvRejected))
			}
			checkPayload(t, ours.state("inbox", uk, resp.ID),
				map[string]string{"payload/answer.txt": string(answer), "payload/tables/t1.csv": string(table)})
			filed := w.records(us, audit.EvFiled)
			if len(filed) != 1 || filed[0].Bundle != resp.ID || filed[0].InReplyTo != req.ID || filed[0].SHA256 != sha256Hex(data) {
				t.Fatalf("filed records %+v; want response %s answering request %s", filed, resp.ID, req.ID)
			}
			if got := w.drop(uk, us); len(got) != 0 {
				t.Fatalf("the partner's drop still holds %v", got)
			}

			// Our receipt, read with the tool and tar.
			drop = w.drop(us, uk)
			if len(drop) != 1 || !strings.HasPrefix(drop[0], us+"_"+uk+"_receipt_") {
				t.Fatalf("drop holds %v, want our receipt", drop)
			}
			rc := openBundle(t, tool, filepath.Join(w.srv.root, us+"-to-"+uk, drop[0]), filepath.Join(t.TempDir(), "receipt"))
			if rc.Kind != "receipt" || rc.Sender != us || rc.Recipient != uk || rc.InReplyTo != resp.ID || rc.Receipt == nil ||
				rc.Receipt.For != resp.ID || rc.Receipt.Status != "filed" || rc.Receipt.CiphertextSHA256 != sha256Hex(data) {
				t.Fatalf("receipt manifest %+v", rc)
			}
		})
	}
}
