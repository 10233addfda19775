package gpgpartner_test

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/testworld"
)

// gpgIn runs gpg --batch in home with input and returns its stdout.
func gpgIn(t *testing.T, home string, input []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("gpg", append([]string{"--batch", "--no-tty", "--trust-model", "always"}, args...)...)
	cmd.Env = append(os.Environ(), "GNUPGHOME="+home)
	cmd.Stdin = bytes.NewReader(input)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("gpg %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// retar rewrites a tar stream through edit, which may change each entry's
// data and the order of the entries.
func retar(t *testing.T, data []byte, edit func(names []string, files map[string][]byte) []string) []byte {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	headers, files := map[string]*tar.Header{}, map[string][]byte{}
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(t, err)
		body, err := io.ReadAll(tr)
		must(t, err)
		headers[h.Name], files[h.Name] = h, body
		names = append(names, h.Name)
	}
	names = edit(names, files)
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	for _, n := range names {
		h := headers[n]
		h.Size = int64(len(files[n]))
		must(t, tw.WriteHeader(h))
		_, err := tw.Write(files[n])
		must(t, err)
	}
	must(t, tw.Close())
	return out.Bytes()
}

// TestOpenBundleRefuses checks that open-bundle.sh exits non-zero, and
// keeps no folder, for a bundle whose tar was changed after its manifest
// was written (then signed again by the right key), whose manifest is not
// last, or that is signed by a key other than the pinned one.
func TestOpenBundleRefuses(t *testing.T) {
	t.Parallel()
	requireTools(t)
	dir := t.TempDir()
	keyFile := func(id string, secret bool) (string, string) {
		sec, pub, fp := testworld.Key(t, id, 0)
		path, data := filepath.Join(dir, id+".public.asc"), pub
		if secret {
			path, data = filepath.Join(dir, id+".secret.asc"), sec
		}
		must(t, os.WriteFile(path, data, 0o600))
		return path, fp
	}
	usSecret, usFpr := keyFile("us", true)
	usPublic, _ := keyFile("us", false)
	themSecret, themFpr := keyFile("partner", true)
	themPublic, _ := keyFile("partner", false)
	ours := gpgHome(t, usSecret, themPublic)
	p := &partner{t: t, home: gpgHome(t, themSecret, usPublic), files: t.TempDir()}

	// A good bundle from us, made with the same script a partner uses.
	payload := filepath.Join(dir, "data.txt")
	must(t, os.WriteFile(payload, []byte("the right figures: 42\n"), 0o600))
	mk := exec.Command("./make-bundle.sh", "request", "us", "partner", themFpr, dir, payload)
	mk.Env = append(os.Environ(), "GNUPGHOME="+ours)
	out, err := mk.CombinedOutput()
	if err != nil {
		t.Fatalf("make-bundle.sh: %v\n%s", err, out)
	}
	good := strings.TrimSpace(string(out))
	p.script("open-bundle.sh", good, filepath.Join(p.files, "good"), usFpr)
	data, err := os.ReadFile(good)
	must(t, err)
	plain := gpgIn(t, p.home, data, "--quiet", "--decrypt")

	for _, tc := range []struct {
		name, signer, pin, want string
		edit                    func([]string, map[string][]byte) []string
	}{
		{"tampered file", ours, usFpr, "sha256", func(n []string, f map[string][]byte) []string {
			f["payload/data.txt"] = []byte("the wrong figures: 43\n")
			return n
		}},
		{"manifest first", ours, usFpr, "last entry", func(n []string, f map[string][]byte) []string {
			return append([]string{"manifest.json"}, n[:len(n)-1]...)
		}},
		{"unpinned signer", p.home, usFpr, "not by", func(n []string, f map[string][]byte) []string { return n }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tarData := retar(t, plain, tc.edit)
			sealed := gpgIn(t, tc.signer, tarData, "--sign", "--encrypt", "--recipient", themFpr, "--compress-algo", "none")
			file := filepath.Join(t.TempDir(), "us_partner_request_x.pgp")
			must(t, os.WriteFile(file, sealed, 0o600))
			opened := filepath.Join(p.files, strings.ReplaceAll(tc.name, " ", "-"))
			out, err := p.try(nil, "open-bundle.sh", file, opened, tc.pin)
			if err == nil {
				t.Fatalf("open-bundle.sh accepted a bundle with a %s:\n%s", tc.name, out)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("open-bundle.sh said %q, want it to mention %q", out, tc.want)
			}
			if _, err := os.Stat(opened); !os.IsNotExist(err) {
				t.Errorf("open-bundle.sh left %s after refusing it (%v)", opened, err)
			}
		})
	}
}
