package sftpdrop

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/faultproxy"
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
	t.Run("sftpd", func(t *testing.T) { t.Parallel(); fn(t, startSftpd(t, opts...)) })
	t.Run("openssh", func(t *testing.T) { t.Parallel(); fn(t, startOpenSSH(t)) })
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
	u, err := d.Create(context.Background(), dir, name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(u, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if err := u.Commit(context.Background(), int64(len(data))); err != nil {
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

// startProxy starts a fault proxy in front of target that cuts (or else
// stalls) once budget bytes passed; budget -1 is unlimited.
func startProxy(t testing.TB, target string, cut bool, budget int64) *faultproxy.Proxy {
	t.Helper()
	mode := faultproxy.Stall
	if cut {
		mode = faultproxy.Cut
	}
	p := faultproxy.Start(t, target, mode)
	p.SetBudget(budget)
	return p
}
