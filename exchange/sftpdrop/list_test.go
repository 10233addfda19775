package sftpdrop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sealpost/sealpost/exchange/drop"
)

func TestListSkipsHostileAndNonRegular(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, srv testServer) {
		srv.mkdir(t, "pull", "pull/folder.pgp")
		files := []string{
			"ok.pgp", "ok2.asc", // fetched
			".hidden.pgp", ".x.pgp.part", "readme.txt", "a.pgp.tmp", // ignored silently
			`back\slash.pgp`, "dot..dot.pgp", "ctl\x01.pgp", "tab\t.asc", "del\x7f.pgp", "bad\xff\xfe.pgp", // hostile
		}
		for _, name := range files {
			writeLocal(t, srv.local("pull", name), []byte(name))
		}
		if err := os.Symlink("ok.pgp", srv.local("pull", "link.pgp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/etc/passwd", srv.local("pull", "escape.asc")); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mkfifo(srv.local("pull", "fifo.pgp"), 0o644); err != nil {
			t.Fatal(err)
		}
		d := dial(t, srv.cfg)
		entries, skipped, err := d.List(context.Background(), srv.remote("pull"))
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 2 || entries[0].Name != "ok.pgp" || entries[1].Name != "ok2.asc" || entries[0].Size != int64(len("ok.pgp")) {
			t.Errorf("entries = %+v, want ok.pgp and ok2.asc", entries)
		}
		want := map[string]string{
			`back\slash.pgp`: "slash", "dot..dot.pgp": `".."`, "ctl\x01.pgp": "control",
			"tab\t.asc": "control", "del\x7f.pgp": "control", "bad\xff\xfe.pgp": "UTF-8",
			"link.pgp": "symbolic link", "escape.asc": "symbolic link",
			"fifo.pgp": "not a regular file", "folder.pgp": "not a regular file",
		}
		got := map[string]string{}
		for _, s := range skipped {
			got[s.Name] = s.Reason
		}
		for name, reason := range want {
			if !strings.Contains(got[name], reason) {
				t.Errorf("skipped[%q] = %q, want a reason containing %q", name, got[name], reason)
			}
		}
		if len(got) != len(want) {
			t.Errorf("skipped %d names, want %d: %q", len(got), len(want), skipped)
		}
		// A symbolic link is not fetched even when asked for by name.
		var buf bytes.Buffer
		if _, err := d.Download(context.Background(), srv.remote("pull"), "link.pgp", &buf); err == nil || buf.Len() != 0 {
			t.Errorf("Download of a symbolic link = %v with %d bytes, want a refusal", err, buf.Len())
		}
	})
}

func TestListTruncatesAtMaxEntries(t *testing.T) {
	t.Parallel()
	srv := startSftpd(t)
	srv.mkdir(t, "pull")
	const extra = 150
	for i := range drop.MaxEntries + extra {
		writeLocal(t, srv.local("pull", fmt.Sprintf("f%05d.pgp", i)), nil)
	}
	d := dial(t, srv.cfg)
	entries, skipped, err := d.List(context.Background(), srv.remote("pull"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != drop.MaxEntries || !sort.SliceIsSorted(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name }) {
		t.Fatalf("got %d entries, want %d sorted by name", len(entries), drop.MaxEntries)
	}
	// The cut is reported once, with its count.
	if len(skipped) != 1 || !strings.Contains(skipped[0].Reason, fmt.Sprintf("%d more entries not listed", extra)) {
		t.Fatalf("skipped = %+v, want one report of %d entries not listed", skipped, extra)
	}
}

func TestListMissingFolderIsPermanent(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, srv testServer) {
		d := dial(t, srv.cfg)
		_, _, err := d.List(context.Background(), srv.remote("no-such-folder"))
		if !errors.Is(err, fs.ErrNotExist) || !drop.IsPermanent(err) || !strings.Contains(err.Error(), "no-such-folder") {
			t.Fatalf("List of a missing folder = %v, want a permanent not-exist error naming it", err)
		}
	})
}

func TestListCancelledContext(t *testing.T) {
	t.Parallel()
	srv := startSftpd(t)
	srv.mkdir(t, "pull")
	d := dial(t, srv.cfg)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if _, _, err := d.List(ctx, srv.remote("pull")); !errors.Is(err, context.Canceled) {
		t.Fatalf("List with a cancelled context = %v after %v", err, time.Since(start))
	}
}
