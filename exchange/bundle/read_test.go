package bundle

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// entry is one crafted tar entry.
type entry struct {
	hdr  tar.Header
	data string
}

func reg(name, data string) entry {
	return entry{tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(data)), Mode: 0o644, ModTime: testTime}, data}
}

func dirEnt(name string) entry {
	return entry{tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: testTime}, ""}
}

func special(flag byte, name, link string) entry {
	return entry{tar.Header{Typeflag: flag, Name: name, Linkname: link, Mode: 0o644, ModTime: testTime}, ""}
}

// manifestOf returns a manifest.json entry for m.
func manifestOf(t testing.TB, m *Manifest) entry {
	return reg("manifest.json", string(mustJSON(t, m)))
}

// listing returns a request manifest listing the payload files among entries.
func listing(entries ...entry) *Manifest {
	m := testManifest(KindRequest)
	for _, e := range entries {
		if e.hdr.Typeflag == tar.TypeReg && strings.HasPrefix(e.hdr.Name, "payload/") {
			m.Files = append(m.Files, File{Path: e.hdr.Name, Size: int64(len(e.data)), SHA256: sha256Hex(e.data)})
		}
	}
	return m
}

// bundleOf returns the entries followed by a manifest listing their payload files.
func bundleOf(t testing.TB, entries ...entry) []entry {
	return append(entries, manifestOf(t, listing(entries...)))
}

// craft writes entries as a tar stream.
func craft(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := e.hdr
		if err := tw.WriteHeader(&hdr); err != nil {
			t.Fatalf("crafting %q: %v", hdr.Name, err)
		}
		if _, err := io.WriteString(tw, e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// patch replaces the first occurrence of old (which must be there) with new of the same length.
func patch(t testing.TB, data []byte, old, new string) []byte {
	t.Helper()
	if len(old) != len(new) || !bytes.Contains(data, []byte(old)) {
		t.Fatalf("cannot patch %q into %q", old, new)
	}
	return bytes.Replace(data, []byte(old), []byte(new), 1)
}

// readInSandbox runs Read into parent/dir and checks that nothing appeared
// outside dir and that no link or special file appeared inside it.
func readInSandbox(t *testing.T, src io.Reader, lim Limits, exp Expect) (*Manifest, string, error) {
	t.Helper()
	parent := t.TempDir()
	dir := filepath.Join(parent, "dir")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	m, err := Read(src, dir, lim, exp)
	if names, _ := os.ReadDir(parent); len(names) != 1 {
		t.Errorf("Read left %d entries beside its folder", len(names)-1)
	}
	readTree(t, dir) // fails on anything but files and folders
	return m, dir, err
}

var okLimits = Limits{MaxBytes: 1 << 20, MaxFiles: 10}

func TestReadRefuses(t *testing.T) {
	a := reg("payload/a", "alpha")
	good := func(extra ...entry) []byte { return craft(t, bundleOf(t, append([]entry{a}, extra...)...)...) }
	nul := patch(t, good(reg("payload/xéy", "n")), "xéy", "x\x00zy")
	sparse := good(entry{tar.Header{Typeflag: tar.TypeReg, Name: "payload/s", Size: 1, ModTime: testTime,
		PAXRecords: map[string]string{"SCHILY.xattr.abc": "1"}}, "s"})
	sparse = patch(t, sparse, "SCHILY.xattr.abc", "GNU.sparse.major")
	bigManifest := craft(t, a)
	bigManifest = bigManifest[:len(bigManifest)-1024] // drop the end-of-archive blocks
	var hdrOnly bytes.Buffer
	tw := tar.NewWriter(&hdrOnly)
	_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "manifest.json", Size: MaxManifestSize + 1, ModTime: testTime})
	bigManifest = append(bigManifest, hdrOnly.Bytes()...)

	wrongSize := listing(a)
	wrongSize.Files[0].Size = 6
	wrongHash := listing(a)
	wrongHash.Files[0].SHA256 = sha256Hex("other")
	missing := listing(a, reg("payload/b", "b"))
	receipt := testManifest(KindReceipt)
	badFormat := listing(a)
	badFormat.Format = "sealpost-bundle/2"
	dirs := []entry{a}
	for _, d := range []string{"payload/1/", "payload/2/", "payload/3/"} {
		dirs = append(dirs, dirEnt(d))
	}
	valid := good()

	cases := []struct {
		name string
		tar  []byte
		lim  Limits
		exp  Expect
		want error
		text string
	}{
		{"symbolic link", good(special(tar.TypeSymlink, "payload/l", "/etc/passwd")), okLimits, Expect{}, ErrArchive, "symbolic link"},
		{"hard link", good(special(tar.TypeLink, "payload/h", "payload/a")), okLimits, Expect{}, ErrArchive, "hard link"},
		{"character device", good(special(tar.TypeChar, "payload/c", "")), okLimits, Expect{}, ErrArchive, "character device"},
		{"block device", good(special(tar.TypeBlock, "payload/b", "")), okLimits, Expect{}, ErrArchive, "block device"},
		{"fifo", good(special(tar.TypeFifo, "payload/f", "")), okLimits, Expect{}, ErrArchive, "named pipe"},
		{"unknown type flag", good(special('Z', "payload/z", "")), okLimits, Expect{}, ErrArchive, `type 'Z'`},
		{"pax global header", good(entry{tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "g", PAXRecords: map[string]string{"comment": "c"}}, ""}), okLimits, Expect{}, ErrArchive, "global header"},
		{"sparse file", sparse, okLimits, Expect{}, ErrArchive, "payload/s"},
		{"absolute path", good(reg("/payload/x", "x")), okLimits, Expect{}, ErrArchive, "absolute"},
		{"dot-dot", good(reg("payload/../../x", "x")), okLimits, Expect{}, ErrArchive, `".."`},
		{"backslash", good(reg(`payload/a\..\x`, "x")), okLimits, Expect{}, ErrArchive, "backslash"},
		{"NUL in name", nul, okLimits, Expect{}, ErrArchive, "tar header"},
		{"control character", good(reg("payload/a\x01b", "x")), okLimits, Expect{}, ErrArchive, "control character"},
		{"bidi override", good(reg("payload/\u202egpj.exe", "x")), okLimits, Expect{}, ErrArchive, "control character"},
		{"invalid UTF-8", good(reg("payload/\xff", "x")), okLimits, Expect{}, ErrArchive, "UTF-8"},
		{"empty component", good(reg("payload//x", "x")), okLimits, Expect{}, ErrArchive, "empty component"},
		{"dot component", good(reg("payload/./x", "x")), okLimits, Expect{}, ErrArchive, `"."`},
		{"dot-slash prefix", good(reg("./payload/x", "x")), okLimits, Expect{}, ErrArchive, `"."`},
		{"outside payload", good(reg("other/x", "x")), okLimits, Expect{}, ErrArchive, "not under payload/"},
		{"payload as a file", craft(t, reg("payload", "x"), manifestOf(t, testManifest(KindReceipt))), okLimits, Expect{}, ErrArchive, "not under payload/"},
		{"manifest.json as a folder", craft(t, a, dirEnt("manifest.json/"), manifestOf(t, listing(a))), okLimits, Expect{}, ErrArchive, "not under payload/"},
		{"duplicate", craft(t, a, a, manifestOf(t, listing(a))), okLimits, Expect{}, ErrArchive, "appears twice"},
		{"duplicate after case folding", good(reg("payload/A", "x")), okLimits, Expect{}, ErrArchive, "case folding"},
		{"duplicate after NFC", good(reg("payload/caf\u00e9", "x"), reg("payload/cafe\u0301", "y")), okLimits, Expect{}, ErrArchive, "NFC"},
		{"folders differing in case", good(reg("payload/D/x", "x"), reg("payload/d/y", "y")), okLimits, Expect{}, ErrArchive, "case folding"},
		{"file and folder", good(reg("payload/a/b", "x")), okLimits, Expect{}, ErrArchive, "both a file and a folder"},
		{"folder with a size", good(entry{tar.Header{Typeflag: tar.TypeDir, Name: "payload/d/", Size: 512, ModTime: testTime}, ""}), okLimits, Expect{}, ErrArchive, "folder with a size"},
		{"duplicate folder entry", good(dirEnt("payload/d/"), dirEnt("payload/d/")), okLimits, Expect{}, ErrArchive, "appears twice"},
		{"manifest missing", craft(t, a), okLimits, Expect{}, ErrArchive, "no manifest.json"},
		{"manifest twice", craft(t, append(bundleOf(t, a), manifestOf(t, listing(a)))...), okLimits, Expect{}, ErrArchive, "twice"},
		{"file after the manifest not listed", craft(t, append(bundleOf(t, a), reg("payload/late", "x"))...), okLimits, Expect{}, ErrManifest, `"payload/late" is in the archive`},
		{"size mismatch", craft(t, a, manifestOf(t, wrongSize)), okLimits, Expect{}, ErrManifest, "5 bytes"},
		{"sha256 mismatch", craft(t, a, manifestOf(t, wrongHash)), okLimits, Expect{}, ErrManifest, "sha256"},
		{"missing file", craft(t, a, manifestOf(t, missing)), okLimits, Expect{}, ErrManifest, `"payload/b" is in manifest.json but not in the archive`},
		{"extra file", craft(t, a, reg("payload/extra", "x"), manifestOf(t, listing(a))), okLimits, Expect{}, ErrManifest, `"payload/extra" is in the archive`},
		{"receipt with payload", craft(t, a, manifestOf(t, receipt)), okLimits, Expect{}, ErrManifest, "payload/a"},
		{"invalid manifest", craft(t, a, manifestOf(t, badFormat)), okLimits, Expect{}, ErrManifest, "format"},
		{"manifest not JSON", craft(t, a, reg("manifest.json", `{"format":`)), okLimits, Expect{}, ErrManifest, "does not parse"},
		{"unexpected sender", valid, okLimits, Expect{Sender: "fr-dgddi"}, ErrManifest, `sender "us-cbp"`},
		{"unexpected recipient", valid, okLimits, Expect{Recipient: "fr-dgddi"}, ErrManifest, `recipient "uk-hmrc"`},
		{"over MaxBytes by header", good(reg("payload/big", strings.Repeat("x", 4000))), Limits{MaxBytes: 3000}, Expect{}, ErrLimits, "payload/big"},
		{"over MaxFiles", good(reg("payload/b", "b"), reg("payload/c", "c")), Limits{MaxFiles: 2}, Expect{}, ErrLimits, "payload/c"},
		{"too many folders", craft(t, bundleOf(t, dirs...)...), Limits{MaxFiles: 3}, Expect{}, ErrLimits, "folders"},
		{"stream over MaxBytes", append(valid, make([]byte, 64<<10)...), Limits{MaxBytes: int64(len(valid)) + 1024}, Expect{}, ErrLimits, "tar stream is longer"},
		{"manifest over 16 MiB", bigManifest, Limits{}, Expect{}, ErrLimits, "manifest.json"},
		{"trailing data", append(valid, 0, 0, 'x'), okLimits, Expect{}, ErrArchive, "non-zero data"},
		{"truncated", valid[:512+2], okLimits, Expect{}, ErrArchive, `"payload/a"`},
		{"not a tar", []byte(strings.Repeat("garbage ", 200)), okLimits, Expect{}, ErrArchive, "tar header at the start"},
		{"empty stream", nil, okLimits, Expect{}, ErrArchive, "no manifest.json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, _, err := readInSandbox(t, bytes.NewReader(c.tar), c.lim, c.exp)
			if !errors.Is(err, c.want) {
				t.Fatalf("Read: %v, want %v", err, c.want)
			}
			t.Log(err)
			if m != nil {
				t.Error("Read returned a manifest with an error")
			}
			if !strings.Contains(err.Error(), c.text) {
				t.Errorf("error %q does not say %q", err, c.text)
			}
		})
	}
}

func TestReadChecksSizesBeforeWriting(t *testing.T) {
	data := craft(t, bundleOf(t, reg("payload/small", "s"), reg("payload/big", strings.Repeat("x", 10000)))...)
	_, dir, err := readInSandbox(t, bytes.NewReader(data), Limits{MaxBytes: 5000}, Expect{})
	if !errors.Is(err, ErrLimits) {
		t.Fatalf("Read: %v, want ErrLimits", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "payload", "big")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("payload/big was created although its header is over the limit: %v", err)
	}
}

func TestReadAcceptsRecordPadding(t *testing.T) {
	data := craft(t, bundleOf(t, reg("payload/a", "a"), dirEnt("payload/"), dirEnt("payload/empty/"))...)
	data = append(data, make([]byte, 10240-len(data)%10240)...)
	if _, dir, err := readInSandbox(t, bytes.NewReader(data), okLimits, Expect{}); err != nil {
		t.Fatal(err)
	} else if fi, err := os.Stat(filepath.Join(dir, "payload", "empty")); err != nil || !fi.IsDir() {
		t.Errorf("empty folder not extracted: %v", err)
	}
}

func TestReadRefusesNonEmptyDir(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"old": "x"})
	_, err := Read(bytes.NewReader(craft(t, bundleOf(t, reg("payload/a", "a"))...)), dir, okLimits, Expect{})
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("Read into a non-empty folder: %v", err)
	}
}

var errFromSource = errors.New("integrity check failed")

// TestReadPassesSourceErrors: the src reader's error survives, whatever the tar looked like.
func TestReadPassesSourceErrors(t *testing.T) {
	valid := craft(t, bundleOf(t, reg("payload/a", strings.Repeat("a", 3000)))...)
	cases := []struct {
		name string
		src  io.Reader
	}{
		{"inside file data", io.MultiReader(bytes.NewReader(valid[:1000]), iotest.ErrReader(errFromSource))},
		{"at a header", io.MultiReader(bytes.NewReader(valid[:512]), iotest.ErrReader(errFromSource))},
		{"after the tar end", io.MultiReader(bytes.NewReader(valid), iotest.ErrReader(errFromSource))},
		{"after garbage", io.MultiReader(strings.NewReader(strings.Repeat("garbage ", 200)), iotest.ErrReader(errFromSource))},
		{"after a refused entry", io.MultiReader(bytes.NewReader(craft(t, reg("/abs", "x"))), iotest.ErrReader(errFromSource))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := readInSandbox(t, c.src, okLimits, Expect{})
			if !errors.Is(err, errFromSource) {
				t.Fatalf("Read: %v, want the source's error", err)
			}
			if Code(err) != "" {
				t.Errorf("a source error is classified as %q", Code(err))
			}
		})
	}
}

// TestReadAcceptsManifestAnywhere: a partner's `tar -cf - manifest.json
// payload` puts the manifest first; anywhere in the archive is accepted,
// and every file is still checked against it.
func TestReadAcceptsManifestAnywhere(t *testing.T) {
	a, b := reg("payload/a", "alpha"), reg("payload/sub/b", "beta")
	m := manifestOf(t, listing(a, b))
	for name, entries := range map[string][]entry{
		"first":  {m, dirEnt("payload/"), a, dirEnt("payload/sub/"), b},
		"middle": {a, m, b},
		"last":   {a, b, m},
	} {
		t.Run(name, func(t *testing.T) {
			got, dir, err := readInSandbox(t, bytes.NewReader(craft(t, entries...)), okLimits, Expect{})
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Files) != 2 {
				t.Fatalf("manifest lists %d files, want 2", len(got.Files))
			}
			if data, err := os.ReadFile(filepath.Join(dir, "payload", "sub", "b")); err != nil || string(data) != "beta" {
				t.Fatalf("payload/sub/b = %q, %v", data, err)
			}
		})
	}
	// First, and a file it does not list: still refused.
	_, _, err := readInSandbox(t, bytes.NewReader(craft(t, manifestOf(t, listing(a)), a, b)), okLimits, Expect{})
	if !errors.Is(err, ErrManifest) || !strings.Contains(err.Error(), `"payload/sub/b" is in the archive`) {
		t.Fatalf("a file the manifest first in the archive does not list: %v", err)
	}
}
