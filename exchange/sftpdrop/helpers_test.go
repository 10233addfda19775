package sftpdrop

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/sftpd"
	"github.com/sealpost/sealpost/internal/sshdtest"
)

// testServer is an SFTP server under test and the folder behind its paths.
type testServer struct {
	cfg         Config
	root        string // folder on disk holding the drop folders
	prefix      string // remote path of root ("" when root is served as "/")
	hostKeyLine string // known_hosts line for the ed25519 host key
	rsaKeyLine  string // known_hosts line for the RSA host key, if any
}

// remote returns the remote path of folder dir.
func (s testServer) remote(dir string) string { return s.prefix + "/" + dir }

// local returns the on-disk path of name under the root.
func (s testServer) local(name ...string) string {
	return filepath.Join(append([]string{s.root}, name...)...)
}

// mkdir creates the folders on disk.
func (s testServer) mkdir(t testing.TB, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(s.local(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// startSftpd runs the in-process server.
func startSftpd(t testing.TB, opts ...sftpd.Option) testServer {
	t.Helper()
	root := t.TempDir()
	srv, err := sftpd.Start(root, t.TempDir(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return testServer{
		cfg: Config{
			Address: srv.Addr, User: "sealpost", KeyFile: srv.ClientKey,
			KnownHosts: srv.KnownHosts, Timeout: 5 * time.Second,
		},
		root: root, hostKeyLine: srv.HostKeyLine, rsaKeyLine: srv.RSAHostKeyLine,
	}
}

// startOpenSSH runs OpenSSH's sshd (ed25519 and RSA host keys).
func startOpenSSH(t testing.TB) testServer {
	t.Helper()
	s := sshdtest.Start(t)
	return testServer{
		cfg: Config{
			Address: s.Addr, User: s.User, KeyFile: s.ClientKey,
			KnownHosts: s.KnownHosts, Timeout: 5 * time.Second,
		},
		root: s.Root, prefix: s.Root, hostKeyLine: s.HostKeyLine, rsaKeyLine: s.RSAHostKeyLine,
	}
}

// eachServer runs fn against the in-process server (with opts) and OpenSSH.
func eachServer(t *testing.T, fn func(t *testing.T, srv testServer), opts ...sftpd.Option) {
	t.Run("sftpd", func(t *testing.T) { fn(t, startSftpd(t, opts...)) })
	t.Run("openssh", func(t *testing.T) { fn(t, startOpenSSH(t)) })
}

// dial connects or fails the test; the Drop is closed at the end.
func dial(t testing.TB, cfg Config) *Drop {
	t.Helper()
	d, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// randomBytes returns n random bytes.
func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// upload writes data to dir/name and commits it.
func upload(t testing.TB, d *Drop, dir, name string, data []byte) {
	t.Helper()
	u, err := d.Create(dir, name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(u, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if err := u.Commit(int64(len(data))); err != nil {
		t.Fatal(err)
	}
}

// writeLocal writes a file on disk.
func writeLocal(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// assertMissing fails unless path does not exist on disk.
func assertMissing(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s exists (err %v), want it absent", path, err)
	}
}

// proxy forwards TCP connections to a target and, once a byte budget is
// spent, either stalls every connection (holds it open, forwards nothing)
// or cuts it.
type proxy struct {
	ln     net.Listener
	target string
	cut    bool // cut instead of stalling
	done   chan struct{}

	mu     sync.Mutex
	budget int64 // bytes still allowed through (both directions); -1: unlimited
	conns  []net.Conn
}

// startProxy listens on loopback in front of target; budget -1 is unlimited.
func startProxy(t testing.TB, target string, cut bool, budget int64) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, cut: cut, budget: budget, done: make(chan struct{})}
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// addr is where clients connect.
func (p *proxy) addr() string { return p.ln.Addr().String() }

// setBudget lets n more bytes through (-1: unlimited, healthy again).
func (p *proxy) setBudget(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.budget = n
}

// close stops the proxy and all its connections.
func (p *proxy) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.done:
		return
	default:
	}
	close(p.done)
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
}

// accept forwards each new connection.
func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		go p.pipe(s, c)
		go p.pipe(c, s)
	}
}

// take returns how many of n bytes may pass.
func (p *proxy) take(n int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.budget < 0 {
		return n
	}
	a := min(int64(n), p.budget)
	p.budget -= a
	return int(a)
}

// pipe copies src to dst within the budget, then stalls or cuts.
func (p *proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			a := p.take(n)
			if _, werr := dst.Write(buf[:a]); werr != nil {
				return
			}
			if a < n {
				if !p.cut {
					<-p.done
				}
				dst.Close()
				src.Close()
				return
			}
		}
		if err != nil {
			dst.Close()
			return
		}
	}
}
