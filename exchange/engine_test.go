package exchange_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sealpost/sealpost/exchange/audit"
	"github.com/sealpost/sealpost/exchange/bundle"
)

const (
	us = "us-cbp"
	uk = "uk-hmrc"
	de = "de-zoll"
)

// TestExchangeBothWays runs requests, receipts and responses between two
// parties over the in-process server and over OpenSSH's sshd, each with
// both parties on SFTP and with us hosting the drop (local:).
func TestExchangeBothWays(t *testing.T) {
	t.Parallel()
	for _, start := range servers() {
		for _, tr := range transports(us) {
			srv := start(t) // a server, and so its folders, for each world
			t.Run(srv.name+"/"+tr.name, func(t *testing.T) {
				t.Parallel()
				w := newWorldOn(t, srv, tr, "", us, uk)
				item := w.send(us, uk, "CASE-2026-0042", "", map[string]string{
					"request.txt": "please send the records", "evidence/invoice.csv": "a,b\n1,2\n", "evidence/scan/p1.txt": "page 1"})
				// An operator drops a file straight into the outbox (settle is 0s).
				must(t, os.WriteFile(w.sides[us].state("outbox", uk, "CASE-2026-0043.txt"), []byte("second request"), 0o600))

				if res := w.run(us, uk); res.Pushed != 2 {
					t.Fatalf("pushed %d bundles, want 2", res.Pushed)
				}
				if got := names(t, w.sides[us].state("outbox", uk)); len(got) != 0 {
					t.Fatalf("outbox still holds %v after the push (queued %s)", got, item)
				}
				if got := names(t, w.sides[us].state("sent", uk)); len(got) != 2 {
					t.Fatalf("sent/ holds %v, want 2 bundles", got)
				}
				for _, n := range w.drop(us, uk) {
					if n[0] == '.' {
						t.Fatalf("a hidden upload %s was left on the drop", n)
					}
				}

				res := w.run(uk, us)
				if res.Filed != 2 || res.Pushed != 2 {
					t.Fatalf("partner filed %d and pushed %d receipts, want 2 and 2", res.Filed, res.Pushed)
				}
				inbox := w.inbox(uk, us)
				byRef := map[string]*bundle.Manifest{}
				for _, m := range inbox {
					byRef[m.Reference] = m
				}
				req := byRef["CASE-2026-0042"]
				if req == nil || byRef["CASE-2026-0043.txt"] == nil {
					t.Fatalf("inbox references %v, want CASE-2026-0042 and CASE-2026-0043.txt", inbox)
				}
				checkPayload(t, w.sides[uk].state("inbox", us, req.ID), map[string]string{
					"payload/request.txt": "please send the records", "payload/evidence/invoice.csv": "a,b\n1,2\n",
					"payload/evidence/scan/p1.txt": "page 1"})
				checkPrivate(t, w.sides[uk].state("inbox", us, req.ID))

				w.send(uk, us, "CASE-2026-0042", req.ID, map[string]string{"answer.txt": "records attached"})
				w.run(uk, us)

				res = w.run(us, uk)
				if res.Receipts != 2 || res.Filed != 1 || res.Pushed != 1 {
					t.Fatalf("us: receipts %d filed %d pushed %d, want 2, 1, 1", res.Receipts, res.Filed, res.Pushed)
				}
				filed := w.records(us, audit.EvFiled)
				if len(filed) != 1 || filed[0].InReplyTo != req.ID || filed[0].Detail != "answers request "+req.ID {
					t.Fatalf("response record %+v does not answer request %s", filed, req.ID)
				}
				for _, r := range w.records(us, audit.EvReceipt) {
					if r.Outcome != "ok" || r.Detail != bundle.StatusFiled {
						t.Fatalf("receipt record %+v, want ok and filed", r)
					}
				}
				if res := w.run(uk, us); res.Receipts != 1 {
					t.Fatalf("partner got %d receipts for its response, want 1", res.Receipts)
				}

				st, err := w.sides[us].eng.Status(uk)
				must(t, err)
				if len(st[0].AwaitingReceipt) != 0 || len(st[0].AwaitingResponse) != 1 || st[0].LastPush == nil || st[0].LastPull == nil {
					t.Fatalf("status %+v: want no bundle awaiting a receipt, one request (0043) awaiting a response, last push and pull set", st[0])
				}
				if st[0].AwaitingResponse[0].Reference != "CASE-2026-0043.txt" {
					t.Fatalf("awaiting response: %+v", st[0].AwaitingResponse)
				}
				for _, pair := range [][2]string{{us, uk}, {uk, us}} {
					if left := w.drop(pair[0], pair[1]); len(left) != 0 {
						t.Fatalf("drop %s-to-%s still holds %v", pair[0], pair[1], left)
					}
				}
			})
		}
	}
}

// TestSeveralPartners checks that each partner of one configuration gets
// only its own bundles, through its own folders.
func TestSeveralPartners(t *testing.T) {
	t.Parallel()
	w := newWorld(t, loopbackServer(t), "", us, uk, de)
	w.send(us, uk, "for-uk", "", map[string]string{"a.txt": "to the UK"})
	w.send(us, de, "for-de", "", map[string]string{"b.txt": "to Germany"})
	w.send(us, de, "for-de-2", "", map[string]string{"c.txt": "to Germany again"})
	results, err := w.sides[us].eng.Run(t.Context(), runAll())
	must(t, err)
	if len(results) != 2 || results[0].Partner != de || results[0].Pushed != 2 || results[1].Pushed != 1 {
		t.Fatalf("results %+v: want de-zoll 2, uk-hmrc 1", results)
	}
	w.run(uk, us)
	w.run(de, us)
	if got := w.inbox(uk, us); len(got) != 1 || got[0].Reference != "for-uk" {
		t.Fatalf("uk inbox %+v", got)
	}
	if got := w.inbox(de, us); len(got) != 2 {
		t.Fatalf("de inbox holds %d bundles, want 2", len(got))
	}
	if got := w.inbox(de, uk); len(got) != 0 {
		t.Fatalf("de filed %d bundles from uk, want none", len(got))
	}
}

// checkPayload compares the files under dir with want (path → content),
// manifest.json aside.
func checkPayload(t *testing.T, dir string, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	must(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "manifest.json" {
			return nil
		}
		data, err := os.ReadFile(p)
		got[rel] = string(data)
		return err
	}))
	if len(got) != len(want) {
		t.Fatalf("filed files %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("filed %s = %q, want %q", k, got[k], v)
		}
	}
}

// checkPrivate fails if anything under dir is readable by group or others.
func checkPrivate(t *testing.T, dir string) {
	t.Helper()
	must(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		want := os.FileMode(0o600)
		if fi.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", p, fi.Mode().Perm(), want)
		}
		return nil
	}))
}
