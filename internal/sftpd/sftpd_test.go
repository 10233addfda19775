package sftpd

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// start runs a server on a new root and key folder.
func start(t *testing.T, opts ...Option) *Server {
	t.Helper()
	s, err := Start(t.TempDir(), t.TempDir(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// clientSigner reads the client key Start wrote.
func clientSigner(t *testing.T, s *Server) ssh.Signer {
	t.Helper()
	data, err := os.ReadFile(s.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(data)
	if err != nil {
		t.Fatal(err)
	}
	return signer
}

// login opens an SSH connection checked against the server's known_hosts.
func login(t *testing.T, s *Server, signer ssh.Signer) (*ssh.Client, error) {
	t.Helper()
	check, err := knownhosts.New(s.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	return ssh.Dial("tcp", s.Addr, &ssh.ClientConfig{
		User: "tester", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: check, HostKeyAlgorithms: []string{ssh.KeyAlgoED25519}, Timeout: 5 * time.Second,
	})
}

// connect returns an SFTP client logged in with the generated key.
func connect(t *testing.T, s *Server) *sftp.Client {
	t.Helper()
	conn, err := login(t, s, clientSigner(t, s))
	if err != nil {
		t.Fatal(err)
	}
	c, err := sftp.NewClient(conn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); conn.Close() })
	return c
}

func TestServesRootFolder(t *testing.T) {
	s := start(t)
	c := connect(t, s)
	if err := c.Mkdir("/inbound"); err != nil {
		t.Fatal(err)
	}
	f, err := c.Create("/inbound/a.pgp")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	f.Close()
	got, err := os.ReadFile(filepath.Join(s.Root, "inbound", "a.pgp"))
	if err != nil || string(got) != "hello" {
		t.Fatalf("file on disk = %q, %v", got, err)
	}
	infos, err := c.ReadDir("/inbound")
	if err != nil || len(infos) != 1 || infos[0].Name() != "a.pgp" || infos[0].Size() != 5 {
		t.Fatalf("ReadDir = %v, %v", infos, err)
	}
	if wd, err := c.Getwd(); err != nil || wd != "/" {
		t.Errorf("Getwd = %q, %v", wd, err)
	}
	if err := c.Remove("/inbound"); err == nil {
		t.Error("Remove deleted a folder")
	}
	if err := c.Remove("/inbound/a.pgp"); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveDirectory("/inbound"); err != nil {
		t.Fatal(err)
	}
}

func TestPathsCannotEscapeRoot(t *testing.T) {
	s := start(t)
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.pgp"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(s.Root, "door")); err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(s.Root, filepath.Join(outside, "secret.pgp"))
	if err != nil {
		t.Fatal(err)
	}
	c := connect(t, s)
	for _, p := range []string{"/door/secret.pgp", "/" + rel, "../../../../../../" + strings.TrimPrefix(outside, "/") + "/secret.pgp"} {
		if f, err := c.Open(p); err == nil {
			f.Close()
			t.Errorf("opened %s outside the root", p)
		}
		if _, err := c.Stat(p); err == nil {
			t.Errorf("stat %s outside the root succeeded", p)
		}
		if _, err := c.Create(p); err == nil {
			t.Errorf("created %s outside the root", p)
		}
	}
	if err := c.Symlink("/etc/passwd", "/link"); err == nil {
		t.Error("client could create a symbolic link")
	}
	if fi, err := c.Lstat("/door"); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("Lstat /door = %v, %v; want a symbolic link", fi, err)
	}
}

func TestPosixRename(t *testing.T) {
	for name, tc := range map[string]struct {
		opts         []Option
		wantExt      bool
		wantReplaced bool
	}{
		"default":            {nil, true, true},
		"WithoutPosixRename": {[]Option{WithoutPosixRename()}, false, false},
	} {
		t.Run(name, func(t *testing.T) {
			s := start(t, tc.opts...)
			c := connect(t, s)
			if _, ok := c.HasExtension(posixRenameExt); ok != tc.wantExt {
				t.Errorf("HasExtension = %v, want %v", ok, tc.wantExt)
			}
			if _, ok := c.HasExtension("statvfs@openssh.com"); !ok {
				t.Error("the other extensions must stay announced")
			}
			for n, data := range map[string]string{"old": "1", "new": "2"} {
				if err := os.WriteFile(filepath.Join(s.Root, n), []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			err := c.PosixRename("/new", "/old")
			got, _ := os.ReadFile(filepath.Join(s.Root, "old"))
			if replaced := err == nil && string(got) == "2"; replaced != tc.wantReplaced {
				t.Errorf("PosixRename: err %v, old holds %q; want replaced=%v", err, got, tc.wantReplaced)
			}
		})
	}
}

func TestPlainRenameDoesNotReplace(t *testing.T) {
	s := start(t)
	c := connect(t, s)
	for _, n := range []string{"a", "b"} {
		if err := os.WriteFile(filepath.Join(s.Root, n), []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Rename("/a", "/b"); err == nil {
		t.Fatal("plain rename replaced an existing file")
	}
	if err := c.Rename("/a", "/c"); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(s.Root, "c")); string(got) != "a" {
		t.Errorf("renamed file holds %q", got)
	}
	if _, err := os.Stat(filepath.Join(s.Root, "a")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("old name still exists: %v", err)
	}
	if err := c.Mkdir("/d"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rename("/d", "/e"); err != nil {
		t.Errorf("renaming a folder: %v", err)
	}
}

func TestRefuseRename(t *testing.T) {
	s := start(t, WithRefuseRename())
	c := connect(t, s)
	if err := os.WriteFile(filepath.Join(s.Root, "a"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, rename := range []func(string, string) error{c.Rename, c.PosixRename} {
		if err := rename("/a", "/b"); !errors.Is(err, fs.ErrPermission) {
			t.Errorf("rename = %v, want permission denied", err)
		}
	}
}

func TestOnlyAuthorizedKeysLogIn(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ssh.NewSignerFromSigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	s := start(t)
	if _, err := login(t, s, other); err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("login with a stranger's key = %v", err)
	}
	s2 := start(t, WithAuthorizedKey(other.PublicKey()))
	conn, err := login(t, s2, other)
	if err != nil {
		t.Fatalf("login with an authorized extra key: %v", err)
	}
	conn.Close()
}

func TestRefusesShellAndExec(t *testing.T) {
	s := start(t)
	conn, err := login(t, s, clientSigner(t, s))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sess, err := conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if err := sess.Run("id"); err == nil {
		t.Error("exec request accepted")
	}
	if _, _, err := conn.OpenChannel("direct-tcpip", nil); err == nil {
		t.Error("port forwarding channel accepted")
	}
}

func TestKeysAreWrittenAndReused(t *testing.T) {
	root, keys := t.TempDir(), t.TempDir()
	s1, err := Start(root, keys)
	if err != nil {
		t.Fatal(err)
	}
	s1.Close()
	fi, err := os.Stat(filepath.Join(keys, ClientKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("client key: %v, %v; want mode 0600", fi, err)
	}
	s2, err := Start(root, keys, WithRSAHostKey())
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	key := func(line string) string { return line[strings.IndexByte(line, ' '):] }
	if key(s1.HostKeyLine) != key(s2.HostKeyLine) {
		t.Error("host key changed between runs")
	}
	if !strings.HasPrefix(s2.HostKeyLine, "["+strings.Replace(s2.Addr, ":", "]:", 1)+" ssh-ed25519 ") ||
		!strings.Contains(s2.RSAHostKeyLine, " ssh-rsa ") {
		t.Errorf("HostKeyLine %q, RSAHostKeyLine %q", s2.HostKeyLine, s2.RSAHostKeyLine)
	}
	kh, err := os.ReadFile(s2.KnownHosts)
	if err != nil || string(kh) != s2.HostKeyLine+"\n" {
		t.Errorf("known_hosts = %q, %v; want only the ed25519 line", kh, err)
	}
}

func TestCloseEndsConnections(t *testing.T) {
	s := start(t)
	c := connect(t, s)
	if _, err := c.Getwd(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return while a client was connected")
	}
	if _, err := c.ReadDir("/"); err == nil {
		t.Error("client still served after Close")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestDropExtensionRejectsOtherPackets(t *testing.T) {
	if _, err := dropExtension([]byte{0, 0, 0, 5, 1, 0, 0, 0, 3}, posixRenameExt); err == nil {
		t.Error("accepted a packet that is not SSH_FXP_VERSION")
	}
	if _, err := dropExtension([]byte{0, 0, 0, 9, 2, 0, 0, 0, 3, 0, 0, 0, 9}, posixRenameExt); err == nil {
		t.Error("accepted a truncated extension string")
	}
}
