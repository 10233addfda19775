// Package testworld builds the test worlds the packages' tests share:
// parties with OpenPGP keys and a sealpost.yaml each, every one configured
// with all the others as partners over one SFTP server. It also holds the
// small helpers those tests need (polling, the sealpost binary built once).
// It is imported by tests only.
package testworld

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealpost/sealpost/crypto"
	"github.com/sealpost/sealpost/internal/sftpd"
	"github.com/sealpost/sealpost/internal/sshdtest"
)

// Server is an SFTP server the parties of a world share: each pair of
// parties has two folders on it, <from>-to-<to>.
type Server struct {
	Name       string // "sftpd" or "openssh", for table tests
	Addr       string
	User       string
	ClientKey  string
	KnownHosts string
	Root       string // local folder behind the remote paths
	RemoteRoot string // prefix of remote paths ("" for sftpd, whose "/" is root)
}

// Loopback starts the in-process SFTP server for the test.
func Loopback(t testing.TB) Server {
	t.Helper()
	srv, err := sftpd.Start(t.TempDir(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return Server{Name: "sftpd", Addr: srv.Addr, User: "sealpost", ClientKey: srv.ClientKey,
		KnownHosts: srv.KnownHosts, Root: srv.Root}
}

// OpenSSH starts a real OpenSSH sshd for the test.
func OpenSSH(t testing.TB) Server {
	t.Helper()
	s := sshdtest.Start(t)
	return Server{Name: "openssh", Addr: s.Addr, User: s.User, ClientKey: s.ClientKey,
		KnownHosts: s.KnownHosts, Root: s.Root, RemoteRoot: s.Root}
}

// Party is one party of a world: its folder holds sealpost.yaml and
// keys/<id>.secret.asc; its public key is <id>.public.asc beside the folder.
type Party struct {
	ID          string
	Dir         string
	Config      string // path of sealpost.yaml
	Fingerprint string
}

// Options are the choices of New beyond the parties' ids.
type Options struct {
	// Extra is appended to every partner block, unindented (New indents it).
	// Unless it sets them, "settle: 0s" and "pull_settle: 0s" are added so
	// that queued items go, and files on the drop are taken, at once.
	Extra string
	// PartyExtra is appended to the partner blocks of one party only.
	PartyExtra map[string]string
	// Lifetime gives a party's key an expiry (none when absent).
	Lifetime map[string]time.Duration
	// Local names the party that hosts the drop: its partner blocks are
	// local: blocks over the server's folders (srv.Root) in place of sftp:
	// ones, while the other parties still reach the folders over SFTP.
	Local string
}

// New writes keys and configurations for ids under a temporary folder and
// makes their folders on srv; every party has all the others as partners.
func New(t testing.TB, srv Server, opt Options, ids ...string) map[string]*Party {
	t.Helper()
	base := t.TempDir()
	parties := map[string]*Party{}
	for _, id := range ids {
		p := &Party{ID: id, Dir: filepath.Join(base, id)}
		p.Config = filepath.Join(p.Dir, "sealpost.yaml")
		secret, public, fp := Key(t, id, opt.Lifetime[id])
		p.Fingerprint = fp
		must(t, os.MkdirAll(filepath.Join(p.Dir, "keys"), 0o700))
		must(t, os.WriteFile(filepath.Join(p.Dir, "keys", id+".secret.asc"), secret, 0o600))
		must(t, os.WriteFile(filepath.Join(base, id+".public.asc"), public, 0o644))
		parties[id] = p
	}
	for _, id := range ids {
		c := Config{ID: id, PrivateKey: "keys/" + id + ".secret.asc"}
		for _, peer := range ids {
			if peer == id {
				continue
			}
			must(t, os.MkdirAll(filepath.Join(srv.Root, id+"-to-"+peer), 0o755))
			c.Partners = append(c.Partners, Partner{ID: peer, PublicKey: "../" + peer + ".public.asc",
				Fingerprints: []string{parties[peer].Fingerprint}, Server: srv,
				PushDir: srv.RemoteRoot + "/" + id + "-to-" + peer, PullDir: srv.RemoteRoot + "/" + peer + "-to-" + id,
				Extra: WithSettle(joinLines(opt.Extra, opt.PartyExtra[id]))})
			if id == opt.Local {
				hostLocally(&c.Partners[len(c.Partners)-1], srv.Root)
			}
		}
		must(t, os.WriteFile(parties[id].Config, []byte(c.YAML()), 0o600))
	}
	return parties
}

// hostLocally turns p into a drop we host: a local: block over root,
// with the same folders as the sftp: block named.
func hostLocally(p *Partner, root string) {
	p.LocalRoot = root
	p.PushDir = strings.TrimPrefix(strings.TrimPrefix(p.PushDir, p.Server.RemoteRoot), "/")
	p.PullDir = strings.TrimPrefix(strings.TrimPrefix(p.PullDir, p.Server.RemoteRoot), "/")
}

// Config is one party's sealpost.yaml as the tests write it; state_dir is
// "state", beside the file.
type Config struct {
	ID         string
	PrivateKey string // path of the secret key, relative to the file
	Identity   string // more keys of the identity block, unindented
	Top        string // top-level keys written before partners, unindented
	Partners   []Partner
}

// Partner is one partner block of a Config.
type Partner struct {
	ID               string
	PublicKey        string // path of the public key, relative to the file
	Fingerprints     []string
	Server           Server // address, user, client key and known_hosts
	PushDir, PullDir string
	Timeout          string // "10s" when empty
	Extra            string // more keys of the block, unindented, as they are
	// LocalRoot, when set, makes the drop one we host: a local: block with
	// this root and PushDir, PullDir (relative to it) and LocalExtra, in
	// place of the sftp: block.
	LocalRoot  string
	LocalExtra string // more keys of the local: block, unindented
}

// YAML is the text of the configuration file.
func (c Config) YAML() string {
	var b strings.Builder
	fmt.Fprintf(&b, "identity:\n  id: %s\n  private_key: %s\n%sstate_dir: state\n%spartners:\n",
		c.ID, c.PrivateKey, Indent(c.Identity, "  "), c.Top)
	for _, p := range c.Partners {
		b.WriteString(p.yaml())
	}
	return b.String()
}

// yaml is the partner's block, indented under partners.
func (p Partner) yaml() string {
	timeout := p.Timeout
	if timeout == "" {
		timeout = "10s"
	}
	fps := make([]string, len(p.Fingerprints))
	for i, fp := range p.Fingerprints {
		fps[i] = `"` + fp + `"`
	}
	if p.LocalRoot != "" {
		return fmt.Sprintf(`  %s:
    public_key: %s
    fingerprints: [%s]
    local:
      root: %s
      push_dir: %s
      pull_dir: %s
%s%s`, p.ID, p.PublicKey, strings.Join(fps, ", "), p.LocalRoot, p.PushDir, p.PullDir,
			Indent(p.LocalExtra, "      "), Indent(p.Extra, "    "))
	}
	return fmt.Sprintf(`  %s:
    public_key: %s
    fingerprints: [%s]
    sftp:
      address: %s
      user: %s
      private_key: %s
      known_hosts: %s
      push_dir: %s
      pull_dir: %s
      timeout: %s
%s`, p.ID, p.PublicKey, strings.Join(fps, ", "), p.Server.Addr, p.Server.User, p.Server.ClientKey, p.Server.KnownHosts,
		p.PushDir, p.PullDir, timeout, Indent(p.Extra, "    "))
}

// joinLines joins two blocks of lines, either of which may be empty.
func joinLines(a, b string) string {
	if a != "" && b != "" && !strings.HasSuffix(a, "\n") {
		a += "\n"
	}
	return a + b
}

// Indent prefixes every line of s with prefix ("" stays "").
func Indent(s, prefix string) string {
	if s == "" {
		return ""
	}
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = prefix + lines[i]
	}
	return strings.Join(lines, "\n") + "\n"
}

// WithSettle adds "settle: 0s" and "pull_settle: 0s" to a partner block
// that sets neither.
func WithSettle(extra string) string {
	for _, key := range []string{"pull_settle", "settle"} {
		if !hasKey(extra, key) {
			extra = key + ": 0s\n" + extra
		}
	}
	return extra
}

// hasKey reports whether a partner block sets key at its top level.
func hasKey(block, key string) bool {
	for _, line := range strings.Split(block, "\n") {
		if strings.HasPrefix(line, key+":") {
			return true
		}
	}
	return false
}

type keyPair struct {
	secret, public []byte
	fp             string
}

var (
	keysMu sync.Mutex
	keys   = map[string]keyPair{}
)

// Key returns an unprotected Ed25519 key pair for id with the given
// lifetime (0: it never expires), generated once per process.
func Key(t testing.TB, id string, lifetime time.Duration) (secret, public []byte, fingerprint string) {
	t.Helper()
	keysMu.Lock()
	defer keysMu.Unlock()
	name := fmt.Sprintf("%s/%d", id, lifetime)
	k, ok := keys[name]
	if !ok {
		var err error
		k.secret, k.public, k.fp, err = crypto.GenerateKeyWith(id, crypto.KeyOptions{Lifetime: lifetime})
		must(t, err)
		keys[name] = k
	}
	return k.secret, k.public, k.fp
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
