package exchange_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/exchange"
	"github.com/sealpost/sealpost/exchange/audit"
	"github.com/sealpost/sealpost/exchange/bundle"
	"github.com/sealpost/sealpost/internal/testworld"
)

// server is an SFTP server the parties of a test world share: each pair of
// parties has two folders on it, <from>-to-<to>.
type server struct {
	name       string
	addr       string
	user       string
	clientKey  string
	knownHosts string
	root       string // local folder behind the remote paths
	remoteRoot string // prefix of remote paths ("" for sftpd, whose "/" is root)
}

// loopbackServer starts the in-process SFTP server.
func loopbackServer(t testing.TB) server { t.Helper(); return fromWorld(testworld.Loopback(t)) }

// opensshServer starts a real OpenSSH sshd.
func opensshServer(t testing.TB) server { t.Helper(); return fromWorld(testworld.OpenSSH(t)) }

func fromWorld(s testworld.Server) server {
	return server{name: s.Name, addr: s.Addr, user: s.User, clientKey: s.ClientKey,
		knownHosts: s.KnownHosts, root: s.Root, remoteRoot: s.RemoteRoot}
}

func (s server) world() testworld.Server {
	return testworld.Server{Name: s.name, Addr: s.addr, User: s.user, ClientKey: s.clientKey,
		KnownHosts: s.knownHosts, Root: s.root, RemoteRoot: s.remoteRoot}
}

// servers returns both kinds of server for table tests.
func servers() []func(testing.TB) server {
	return []func(testing.TB) server{loopbackServer, opensshServer}
}

// side is one party of a test world.
type side struct {
	id      string
	dir     string
	cfgPath string
	cfg     *config.Config
	eng     *exchange.Engine
	fp      string
}

// world is several parties, each configured with all the others as
// partners, over one SFTP server.
type world struct {
	t     testing.TB
	srv   server
	sides map[string]*side
}

// newWorld makes keys and configurations for ids (testworld.New) and
// starts their engines. extra is appended to every partner block.
func newWorld(t testing.TB, srv server, extra string, ids ...string) *world {
	t.Helper()
	return newWorldOn(t, srv, sftpOnly, extra, ids...)
}

// transport is how the parties of a world reach the drop: all over SFTP,
// or one of them (host) hosting it through a local: block over the
// server's folders while the others still use SFTP.
type transport struct {
	name string
	host string // the party whose drop is local; "" for all SFTP
}

// sftpOnly is the world where every party reaches the drop over SFTP.
var sftpOnly = transport{name: "sftp"}

// transports returns both ways to reach the drop for table tests, the
// local one hosted by host.
func transports(host string) []transport {
	return []transport{sftpOnly, {name: "local", host: host}}
}

// onEachTransport runs check as a parallel subtest per transport, host
// being the party that hosts the drop in the local one.
func onEachTransport(t *testing.T, host string, check func(t *testing.T, tr transport)) {
	for _, tr := range transports(host) {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			check(t, tr)
		})
	}
}

// newWorldOn is newWorld with the parties reaching the drop by tr.
func newWorldOn(t testing.TB, srv server, tr transport, extra string, ids ...string) *world {
	t.Helper()
	w := &world{t: t, srv: srv, sides: map[string]*side{}}
	parties := testworld.New(t, srv.world(), testworld.Options{Extra: extra, Local: tr.host}, ids...)
	for _, id := range ids {
		p := parties[id]
		s := &side{id: id, dir: p.Dir, cfgPath: p.Config, fp: p.Fingerprint}
		w.sides[id] = s
		w.start(s)
		for peer, p := range s.cfg.Partners {
			if (p.Local != nil) != (id == tr.host) {
				t.Fatalf("%s's drop for %s: local is %v, want it only for %q", id, peer, p.Local != nil, tr.host)
			}
		}
	}
	return w
}

// start (re)loads a side's configuration and engine.
func (w *world) start(s *side) {
	w.t.Helper()
	if s.eng != nil {
		s.eng.Close()
	}
	cfg, err := config.Load(s.cfgPath)
	must(w.t, err)
	s.cfg = cfg
	s.eng, err = exchange.New(cfg, nil)
	must(w.t, err)
	w.t.Cleanup(func() { s.eng.Close() })
}

// run runs one full cycle of party id with its partner peer and fails the
// test on error.
func (w *world) run(id, peer string) exchange.Result {
	w.t.Helper()
	res := w.sides[id].eng.RunPartner(context.Background(), exchange.RunOptions{Partner: peer})
	if res.Err != nil {
		w.t.Fatalf("run %s→%s: %v", id, peer, res.Err)
	}
	return res
}

// send queues files (name → content) from id to peer.
func (w *world) send(id, peer, ref, replyTo string, files map[string]string) string {
	w.t.Helper()
	dir := w.t.TempDir()
	var paths []string
	for name, body := range files {
		p := filepath.Join(dir, name)
		must(w.t, os.MkdirAll(filepath.Dir(p), 0o700))
		must(w.t, os.WriteFile(p, []byte(body), 0o600))
		if !strings.Contains(name, "/") {
			paths = append(paths, p)
		} else if top := filepath.Join(dir, strings.Split(name, "/")[0]); !contains(paths, top) {
			paths = append(paths, top)
		}
	}
	sort.Strings(paths)
	item, err := w.sides[id].eng.Send(w.t.Context(), exchange.SendRequest{To: peer, Reference: ref, ReplyTo: replyTo, Paths: paths})
	must(w.t, err)
	return item
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// state returns a path under a side's state folder.
func (s *side) state(parts ...string) string {
	return filepath.Join(append([]string{s.cfg.StateDir}, parts...)...)
}

// names lists the entries of dir, sorted ("" entries when missing).
func names(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// inbox returns the manifests of the bundles filed by id from peer.
func (w *world) inbox(id, peer string) []*bundle.Manifest {
	w.t.Helper()
	s := w.sides[id]
	var out []*bundle.Manifest
	for _, n := range names(w.t, s.state("inbox", peer)) {
		data, err := os.ReadFile(s.state("inbox", peer, n, "manifest.json"))
		must(w.t, err)
		m, err := bundle.ParseManifest(data)
		must(w.t, err)
		if m.ID != n {
			w.t.Fatalf("inbox folder %s holds bundle %s", n, m.ID)
		}
		out = append(out, m)
	}
	return out
}

// records returns the records of id's exchange log with the given event,
// after checking that the whole log verifies.
func (w *world) records(id, event string) []audit.Record {
	w.t.Helper()
	dir := w.sides[id].state("audit")
	if _, err := audit.Verify(dir); err != nil {
		w.t.Fatalf("%s's exchange log: %v", id, err)
	}
	var out []audit.Record
	must(w.t, audit.Scan(dir, func(r audit.Record) error {
		if r.Event == event {
			out = append(out, r)
		}
		return nil
	}))
	return out
}

// drop lists what is on the server in the folder from → to.
func (w *world) drop(from, to string) []string {
	return names(w.t, filepath.Join(w.srv.root, from+"-to-"+to))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// readJSONFile decodes a JSON file.
func readJSONFile(t testing.TB, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	must(t, err)
	must(t, json.Unmarshal(data, v))
}

// runAll is a full cycle for every partner.
func runAll() exchange.RunOptions { return exchange.RunOptions{} }
