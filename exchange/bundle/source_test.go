package bundle

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSourcesForItem(t *testing.T) {
	tmp := t.TempDir()
	writeTree(t, tmp, map[string]string{
		"file.pdf": "x", "folder/b.txt": "b", "folder/a/x": "x", "folder/bundle.yaml": "", "folder/READY": "", "folder/.dot": "",
	})
	got, err := SourcesForItem(filepath.Join(tmp, "file.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []Source{{filepath.Join(tmp, "file.pdf"), "file.pdf"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("file item: %v, want %v", got, want)
	}
	got, err = SourcesForItem(filepath.Join(tmp, "folder"))
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(tmp, "folder")
	want := []Source{{filepath.Join(f, ".dot"), ".dot"}, {filepath.Join(f, "a"), "a"}, {filepath.Join(f, "b.txt"), "b.txt"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("folder item: %v, want %v", got, want)
	}

	if err := os.Symlink(f, filepath.Join(tmp, "link")); err != nil {
		t.Fatal(err)
	}
	if _, err := SourcesForItem(filepath.Join(tmp, "link")); !errors.Is(err, ErrUnsafeSource) {
		t.Errorf("symlink item: %v, want ErrUnsafeSource", err)
	}
	if err := mkfifo(filepath.Join(tmp, "fifo")); err != nil {
		t.Fatal(err)
	}
	if _, err := SourcesForItem(filepath.Join(tmp, "fifo")); !errors.Is(err, ErrUnsafeSource) || !strings.Contains(err.Error(), "named pipe") {
		t.Errorf("fifo item: %v, want ErrUnsafeSource naming a named pipe", err)
	}
}

func TestSourcesForPaths(t *testing.T) {
	tmp := t.TempDir()
	writeTree(t, tmp, map[string]string{"a.pdf": "a", "scans/1.png": "1", "other/a.pdf": "b", "other/A.PDF": "c"})
	got, err := SourcesForPaths([]string{filepath.Join(tmp, "a.pdf"), filepath.Join(tmp, "scans") + "/"})
	if err != nil {
		t.Fatal(err)
	}
	want := []Source{{filepath.Join(tmp, "a.pdf"), "a.pdf"}, {filepath.Join(tmp, "scans") + "/", "scans"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SourcesForPaths = %v, want %v", got, want)
	}
	for name, paths := range map[string][]string{
		"same base name":          {filepath.Join(tmp, "a.pdf"), filepath.Join(tmp, "other", "a.pdf")},
		"same base name but case": {filepath.Join(tmp, "a.pdf"), filepath.Join(tmp, "other", "A.PDF")},
		"root":                    {"/"},
	} {
		if _, err := SourcesForPaths(paths); !errors.Is(err, ErrUnsafeSource) {
			t.Errorf("%s: %v, want ErrUnsafeSource", name, err)
		}
	}
	if err := os.Symlink(filepath.Join(tmp, "a.pdf"), filepath.Join(tmp, "link")); err != nil {
		t.Fatal(err)
	}
	if _, err := SourcesForPaths([]string{filepath.Join(tmp, "link")}); !errors.Is(err, ErrUnsafeSource) {
		t.Errorf("symlink: %v, want ErrUnsafeSource", err)
	}
	if _, err := SourcesForPaths([]string{filepath.Join(tmp, "missing")}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing path: %v, want not-exist", err)
	}
}

func TestReadItemMeta(t *testing.T) {
	id := NewID()
	cases := []struct {
		name, yaml     string
		ref, reply     string
		errText        string
		noFile, asLink bool
	}{
		{name: "no bundle.yaml", noFile: true},
		{name: "empty", yaml: ""},
		{name: "both keys", yaml: "reference: CASE-2026-0042\nin_reply_to: " + id + "\n", ref: "CASE-2026-0042", reply: id},
		{name: "number as reference", yaml: "reference: 42\n", ref: "42"},
		{name: "unknown key", yaml: "reference: x\nin_reply: y\n", errText: "line 2"},
		{name: "bad in_reply_to", yaml: "in_reply_to: CASE-1\n", errText: "in_reply_to"},
		{name: "two documents", yaml: "reference: a\n---\nreference: b\n", errText: "more than one"},
		{name: "not a mapping", yaml: "- a\n", errText: "bundle.yaml"},
		{name: "symlink", asLink: true, errText: "symbolic link"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, ItemMetaName)
			switch {
			case c.asLink:
				writeTree(t, dir, map[string]string{"real.yaml": "reference: x\n"})
				if err := os.Symlink(filepath.Join(dir, "real.yaml"), p); err != nil {
					t.Fatal(err)
				}
			case !c.noFile:
				writeTree(t, dir, map[string]string{ItemMetaName: c.yaml})
			}
			ref, reply, err := ReadItemMeta(dir)
			if c.errText != "" {
				if err == nil || !strings.Contains(err.Error(), c.errText) {
					t.Fatalf("ReadItemMeta: %v, want an error saying %q", err, c.errText)
				}
				return
			}
			if err != nil || ref != c.ref || reply != c.reply {
				t.Errorf("ReadItemMeta = %q, %q, %v; want %q, %q", ref, reply, err, c.ref, c.reply)
			}
		})
	}
}
