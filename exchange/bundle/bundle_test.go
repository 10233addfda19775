package bundle

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

var testTime = time.Date(2026, 11, 27, 22, 4, 35, 0, time.UTC)

// testManifest returns a valid manifest of kind from us-cbp to uk-hmrc.
func testManifest(kind string) *Manifest {
	m := NewManifest(kind, "us-cbp", "uk-hmrc", testTime)
	m.Reference = "CASE-2026-0042"
	switch kind {
	case KindResponse:
		m.InReplyTo = NewID()
	case KindReceipt:
		m.InReplyTo = NewID()
		m.Receipt = &Receipt{For: m.InReplyTo, CiphertextSHA256: strings.Repeat("ab", 32), Status: StatusFiled}
	}
	return m
}

// writeTree creates files (name -> content) under root; a name ending in "/" is an empty folder.
func writeTree(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// readTree returns the files under root (slash paths -> content) and its folders (with a trailing "/").
func readTree(t testing.TB, root string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			got[rel+"/"] = ""
		case d.Type().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			got[rel] = string(data)
		default:
			t.Errorf("%s is a %v", rel, d.Type())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func randomString(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRoundTripOutboxFolder(t *testing.T) {
	big := randomString(t, 3<<20+17) // larger than the copy buffer
	item := filepath.Join(t.TempDir(), "case-42")
	writeTree(t, item, map[string]string{
		"a.txt":              "hello\n",
		"empty":              "",
		"sub/deep/big.bin":   big,
		"sub/ünïcode.txt":    "é",
		"emptydir/":          "",
		"bundle.yaml":        "reference: X\n",
		"READY":              "",
		"sub/READY":          "nested READY is payload",
		"sub/deep/.hidden":   "dot files inside a folder are payload",
		"sub/bundle.yaml":    "nested bundle.yaml is payload",
		"zz/last/one/f.json": "{}",
	})
	srcs, err := SourcesForItem(item)
	if err != nil {
		t.Fatal(err)
	}
	m := testManifest(KindRequest)
	var buf bytes.Buffer
	if err := Write(&buf, m, srcs); err != nil {
		t.Fatal(err)
	}
	wantFiles := map[string]string{
		"payload/a.txt":              "hello\n",
		"payload/empty":              "",
		"payload/sub/deep/big.bin":   big,
		"payload/sub/ünïcode.txt":    "é",
		"payload/sub/READY":          "nested READY is payload",
		"payload/sub/deep/.hidden":   "dot files inside a folder are payload",
		"payload/sub/bundle.yaml":    "nested bundle.yaml is payload",
		"payload/zz/last/one/f.json": "{}",
	}
	if len(m.Files) != len(wantFiles) {
		t.Fatalf("m.Files has %d files, want %d: %+v", len(m.Files), len(wantFiles), m.Files)
	}
	for _, f := range m.Files {
		if f.Size != int64(len(wantFiles[f.Path])) || f.SHA256 != sha256Hex(wantFiles[f.Path]) {
			t.Errorf("m.Files entry %+v does not match the source", f)
		}
	}

	dir := t.TempDir()
	got, err := Read(bytes.NewReader(buf.Bytes()), dir, Limits{MaxBytes: 1 << 30, MaxFiles: 100}, Expect{Sender: "us-cbp", Recipient: "uk-hmrc"})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != m.ID || got.Reference != m.Reference || !got.Created.Equal(testTime) || len(got.Files) != len(m.Files) {
		t.Errorf("Read returned manifest %+v, want %+v", got, m)
	}
	tree := readTree(t, dir)
	for name, content := range wantFiles {
		if tree[name] != content {
			t.Errorf("%s: extracted %d bytes, want %d", name, len(tree[name]), len(content))
		}
		delete(tree, name)
	}
	if _, ok := tree["manifest.json"]; !ok {
		t.Error("manifest.json was not extracted")
	}
	delete(tree, "manifest.json")
	for _, d := range []string{"payload/", "payload/emptydir/", "payload/sub/", "payload/sub/deep/", "payload/zz/", "payload/zz/last/", "payload/zz/last/one/"} {
		if _, ok := tree[d]; !ok {
			t.Errorf("folder %s was not extracted", d)
		}
		delete(tree, d)
	}
	if len(tree) != 0 {
		t.Errorf("unexpected extracted entries: %v", tree)
	}
	checkModes(t, dir)
}

// checkModes asserts files are 0600 and folders 0700 under dir.
func checkModes(t *testing.T, dir string) {
	t.Helper()
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = fs.ModeDir | 0o700
		}
		if fi.Mode() != want {
			t.Errorf("%s has mode %v, want %v", p, fi.Mode(), want)
		}
		return nil
	})
}

func TestRoundTripPathsAndReceipt(t *testing.T) {
	tmp := t.TempDir()
	writeTree(t, tmp, map[string]string{"a.pdf": "pdf", "scans/1.png": "one", "scans/2.png": "two"})
	srcs, err := SourcesForPaths([]string{filepath.Join(tmp, "a.pdf"), filepath.Join(tmp, "scans") + "/"})
	if err != nil {
		t.Fatal(err)
	}
	m := testManifest(KindResponse)
	var buf bytes.Buffer
	if err := Write(&buf, m, srcs); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range m.Files {
		paths = append(paths, f.Path)
	}
	if want := "payload/a.pdf payload/scans/1.png payload/scans/2.png"; strings.Join(paths, " ") != want {
		t.Errorf("paths %v, want %s", paths, want)
	}
	if _, err := Read(&buf, t.TempDir(), Limits{}, Expect{}); err != nil {
		t.Fatal(err)
	}

	r := testManifest(KindReceipt)
	buf.Reset()
	if err := Write(&buf, r, nil); err != nil {
		t.Fatal(err)
	}
	got, err := Read(&buf, t.TempDir(), Limits{MaxBytes: 1 << 20, MaxFiles: 1}, Expect{Sender: "us-cbp", Recipient: "uk-hmrc"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Receipt == nil || *got.Receipt != *r.Receipt || len(got.Files) != 0 || got.Files == nil {
		t.Errorf("receipt round trip gave %+v", got)
	}
}

// TestGNUTarExtractsWhatWeWrite: a partner without sealpost unpacks with tar -x.
func TestGNUTarExtractsWhatWeWrite(t *testing.T) {
	tarBin := needTar(t)
	tmp := t.TempDir()
	files := map[string]string{"a.txt": "alpha", "nested/b/c.txt": "gamma", "nested/empty": "", "ü.txt": "unicode name"}
	writeTree(t, filepath.Join(tmp, "item"), files)
	srcs, err := SourcesForItem(filepath.Join(tmp, "item"))
	if err != nil {
		t.Fatal(err)
	}
	bundlePath := filepath.Join(tmp, "bundle.tar")
	f, err := os.Create(bundlePath)
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(f, testManifest(KindRequest), srcs); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(tarBin, "-xf", bundlePath, "-C", out).CombinedOutput(); err != nil {
		t.Fatalf("tar -x: %v: %s", err, b)
	}
	list, err := exec.Command(tarBin, "-tf", bundlePath).Output()
	if err != nil {
		t.Fatal(err)
	}
	names := strings.Fields(string(list))
	if names[len(names)-1] != "manifest.json" {
		t.Errorf("tar -t lists %v, manifest.json is not last", names)
	}
	tree := readTree(t, out)
	for name, content := range files {
		if tree["payload/"+name] != content {
			t.Errorf("tar -x gave %q for %s, want %q", tree["payload/"+name], name, content)
		}
	}
	if _, err := ParseManifest([]byte(tree["manifest.json"])); err != nil {
		t.Errorf("manifest.json extracted by tar: %v", err)
	}
}

// TestReadGNUTarArchive: a partner without sealpost packs with tar -c (manifest.json last).
func TestReadGNUTarArchive(t *testing.T) {
	tarBin := needTar(t)
	for _, format := range []string{"gnu", "pax", "ustar"} {
		t.Run(format, func(t *testing.T) {
			tmp := t.TempDir()
			src := filepath.Join(tmp, "src")
			content := map[string]string{"payload/report.pdf": "%PDF-1.7", "payload/sub/data.csv": "a,b\n1,2\n", "payload/sub/empty": ""}
			writeTree(t, src, content)
			m := testManifest(KindRequest)
			for _, name := range []string{"payload/report.pdf", "payload/sub/data.csv", "payload/sub/empty"} {
				m.Files = append(m.Files, File{Path: name, Size: int64(len(content[name])), SHA256: sha256Hex(content[name])})
			}
			writeTree(t, src, map[string]string{"manifest.json": string(mustJSON(t, m))})
			archive := filepath.Join(tmp, "b.tar")
			cmd := exec.Command(tarBin, "--format="+format, "-cf", archive, "-C", src, "payload", "manifest.json")
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("tar -c: %v: %s", err, b)
			}
			data, err := os.ReadFile(archive)
			if err != nil {
				t.Fatal(err)
			}
			if len(data)%10240 != 0 {
				t.Errorf("GNU tar archive is %d bytes, not padded to 10240-byte records", len(data))
			}
			dir := t.TempDir()
			got, err := Read(bytes.NewReader(data), dir, Limits{MaxBytes: 1 << 20, MaxFiles: 10}, Expect{Sender: "us-cbp", Recipient: "uk-hmrc"})
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != m.ID {
				t.Errorf("id %s, want %s", got.ID, m.ID)
			}
			tree := readTree(t, dir)
			for name, c := range content {
				if tree[name] != c {
					t.Errorf("%s: got %q, want %q", name, tree[name], c)
				}
			}
		})
	}
}

// needTar returns the path of GNU tar or skips (fails under CI).
func needTar(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("tar")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tar is not installed")
		}
		t.Skip("tar is not installed")
	}
	return p
}

func TestWriteRefusesUnsafeSources(t *testing.T) {
	tmp := t.TempDir()
	writeTree(t, tmp, map[string]string{"item/ok.txt": "ok", "target.txt": "secret", "dup/A.txt": "1", "dup/a.txt": "2"})
	if err := os.Symlink(filepath.Join(tmp, "target.txt"), filepath.Join(tmp, "item", "link.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(tmp, "target.txt"), filepath.Join(tmp, "toplink")); err != nil {
		t.Fatal(err)
	}
	if err := mkfifo(filepath.Join(tmp, "fifo")); err != nil {
		t.Fatal(err)
	}
	writeTree(t, tmp, map[string]string{"bad/back\\slash": "x", "ctl/new\nline": "x"})

	cases := []struct {
		name string
		srcs []Source
		what string
	}{
		{"symlink inside folder", []Source{{filepath.Join(tmp, "item"), "item"}}, "link.txt"},
		{"symlink source", []Source{{filepath.Join(tmp, "toplink"), "toplink"}}, "toplink"},
		{"fifo source", []Source{{filepath.Join(tmp, "fifo"), "fifo"}}, "fifo"},
		{"backslash in name", []Source{{filepath.Join(tmp, "bad"), "bad"}}, "back\\slash"},
		{"control character in name", []Source{{filepath.Join(tmp, "ctl"), "ctl"}}, "ctl"},
		{"names differing only in case", []Source{{filepath.Join(tmp, "dup"), "dup"}}, "a.txt"},
		{"duplicate source name", []Source{{filepath.Join(tmp, "target.txt"), "x"}, {filepath.Join(tmp, "item/ok.txt"), "x"}}, "ok.txt"},
		{"dot-dot source name", []Source{{filepath.Join(tmp, "target.txt"), ".."}}, "target.txt"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Write(&bytes.Buffer{}, testManifest(KindRequest), c.srcs)
			if !errors.Is(err, ErrUnsafeSource) {
				t.Fatalf("Write: %v, want ErrUnsafeSource", err)
			}
			if !strings.Contains(err.Error(), c.what) {
				t.Errorf("error %q does not name %q", err, c.what)
			}
		})
	}
}

func TestWriteRefusesBadManifests(t *testing.T) {
	tmp := t.TempDir()
	writeTree(t, tmp, map[string]string{"a": "a"})
	one := []Source{{filepath.Join(tmp, "a"), "a"}}
	badID := testManifest(KindRequest)
	badID.ID = "not-a-uuid"
	noReply := testManifest(KindResponse)
	noReply.InReplyTo = ""
	cases := []struct {
		name string
		m    *Manifest
		srcs []Source
	}{
		{"request without files", testManifest(KindRequest), nil},
		{"receipt with files", testManifest(KindReceipt), one},
		{"bad id", badID, one},
		{"response without in_reply_to", noReply, one},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := Write(&bytes.Buffer{}, c.m, c.srcs); !errors.Is(err, ErrManifest) {
				t.Fatalf("Write: %v, want ErrManifest", err)
			}
		})
	}
}

func TestWriteDetectsFileChangedWhileRead(t *testing.T) {
	tmp := t.TempDir()
	p := filepath.Join(tmp, "growing")
	writeTree(t, tmp, map[string]string{"growing": strings.Repeat("x", 3<<20)})
	// dst grows the file after the first chunk is copied.
	dst := &hookWriter{hook: func() {
		f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
			return
		}
		f.WriteString("more")
		f.Close()
	}}
	err := Write(dst, testManifest(KindRequest), []Source{{p, "growing"}})
	if err == nil || !strings.Contains(err.Error(), "grew") {
		t.Fatalf("Write: %v, want a 'grew' error", err)
	}
	dst = &hookWriter{hook: func() {
		if err := os.Truncate(p, 1<<20+5); err != nil {
			t.Error(err)
		}
	}}
	err = Write(dst, testManifest(KindRequest), []Source{{p, "growing"}})
	if err == nil || !strings.Contains(err.Error(), "shrank") {
		t.Fatalf("Write: %v, want a 'shrank' error", err)
	}
}

// hookWriter calls hook once, on the first write larger than a tar header.
type hookWriter struct {
	hook func()
	done bool
}

func (w *hookWriter) Write(p []byte) (int, error) {
	if !w.done && len(p) > 512 {
		w.done = true
		w.hook()
	}
	return len(p), nil
}

func mkfifo(path string) error { return syscall.Mkfifo(path, 0o644) }

func mustJSON(t testing.TB, m *Manifest) []byte {
	t.Helper()
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return data
}
