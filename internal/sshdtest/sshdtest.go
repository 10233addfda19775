// Package sshdtest runs a real OpenSSH sshd on the loopback interface for
// interoperability tests, serving SFTP through internal-sftp.
package sshdtest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// SshdPath is the OpenSSH server binary the tests run.
const SshdPath = "/usr/sbin/sshd"

// privsepDir is where Debian's sshd, started as root, expects its privilege
// separation folder (systemd creates it at boot for the system sshd).
const privsepDir = "/run/sshd"

// Sshd is a running OpenSSH server with its own host keys.
type Sshd struct {
	Addr           string // 127.0.0.1:port
	User           string // the user to log in as: the one running the tests
	ClientKey      string // unencrypted ed25519 client key, authorized to log in
	KnownHosts     string // known_hosts listing the ed25519 host key ONLY
	HostKeyLine    string // the known_hosts line in KnownHosts
	RSAHostKeyLine string // a known_hosts line for the RSA host key (not in KnownHosts)
	Root           string // an empty folder for the tests' drop folders (absolute paths)
	Log            string // sshd's log file (-e output)
}

// Start launches `sshd -D -e -f <config>` on a free 127.0.0.1 port and
// stops it when the test ends. The server has two host keys, ed25519 and
// RSA, while KnownHosts lists only the ed25519 one. If sshd is missing the
// test fails when $CI is set and is skipped otherwise.
func Start(t testing.TB) *Sshd {
	t.Helper()
	if _, err := os.Stat(SshdPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("OpenSSH server %s is required in CI: %v", SshdPath, err)
		}
		t.Skipf("OpenSSH server %s not installed: %v", SshdPath, err)
	}
	keygen, err := exec.LookPath("ssh-keygen")
	if err != nil {
		t.Fatalf("ssh-keygen is needed next to sshd: %v", err)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatalf("current user: %v", err)
	}
	ensurePrivsepDir(t)
	dir := t.TempDir()
	s := &Sshd{
		User:       u.Username,
		ClientKey:  filepath.Join(dir, "id_ed25519"),
		KnownHosts: filepath.Join(dir, "known_hosts"),
		Root:       filepath.Join(dir, "root"),
		Log:        filepath.Join(dir, "sshd.log"),
	}
	if err := os.Mkdir(s.Root, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, k := range []struct{ typ, bits, file string }{
		{"ed25519", "256", "ssh_host_ed25519_key"},
		{"rsa", "2048", "ssh_host_rsa_key"}, // quick to generate; strength is not the point here
		{"ed25519", "256", "id_ed25519"},
	} {
		run(t, keygen, "-q", "-t", k.typ, "-b", k.bits, "-N", "", "-C", "sealpost-sshdtest", "-f", filepath.Join(dir, k.file))
	}
	copyFile(t, s.ClientKey+".pub", filepath.Join(dir, "authorized_keys"))
	s.launch(t, dir)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sshd log %s:\n%s", s.Log, readFile(t, s.Log))
		}
	})
	return s
}

// launch starts sshd on a free port, retrying with another port when the
// one picked was taken in the meantime.
func (s *Sshd) launch(t testing.TB, dir string) {
	t.Helper()
	var lastErr error
	for range 5 {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		s.Addr = net.JoinHostPort("127.0.0.1", port)
		cfg := filepath.Join(dir, "sshd_config")
		writeFile(t, cfg, config(dir, port, s.User))
		if lastErr = s.run(t, cfg); lastErr == nil {
			s.HostKeyLine = knownHostsLine(t, port, filepath.Join(dir, "ssh_host_ed25519_key.pub"))
			s.RSAHostKeyLine = knownHostsLine(t, port, filepath.Join(dir, "ssh_host_rsa_key.pub"))
			writeFile(t, s.KnownHosts, s.HostKeyLine+"\n")
			return
		}
	}
	t.Fatalf("sshd did not start: %v\n%s", lastErr, readFile(t, s.Log))
}

// knownHostsLine returns "[127.0.0.1]:port type base64" for a public key file.
func knownHostsLine(t testing.TB, port, pubFile string) string {
	fields := strings.Fields(readFile(t, pubFile))
	if len(fields) < 2 {
		t.Fatalf("public key file %s is malformed", pubFile)
	}
	return "[127.0.0.1]:" + port + " " + fields[0] + " " + fields[1]
}

// config returns the sshd_config text.
func config(dir, port, user string) string {
	return fmt.Sprintf(`Port %s
ListenAddress 127.0.0.1
HostKey %[2]s/ssh_host_ed25519_key
HostKey %[2]s/ssh_host_rsa_key
AuthorizedKeysFile %[2]s/authorized_keys
AllowUsers %[3]s
PidFile none
StrictModes no
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowTcpForwarding no
X11Forwarding no
Subsystem sftp internal-sftp
LogLevel VERBOSE
`, port, dir, user)
}

// run starts sshd with cfg and waits until it listens and answers with an
// SSH banner.
func (s *Sshd) run(t testing.TB, cfg string) error {
	log, err := os.OpenFile(s.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(SshdPath, "-D", "-e", "-f", cfg)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("sshd exited: %v", err)
		default:
		}
		if s.listening() && banner(s.Addr) {
			t.Cleanup(func() {
				cmd.Process.Kill()
				<-exited
			})
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	<-exited
	return errors.New("sshd did not answer within 10s")
}

// listening reports whether this sshd logged that it listens on its port:
// a banner alone may come from another test's sshd that took the port
// first (this one then fails to bind and exits).
func (s *Sshd) listening() bool {
	_, port, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return false
	}
	log, err := os.ReadFile(s.Log)
	return err == nil && strings.Contains(string(log), "Server listening on 127.0.0.1 port "+port+".")
}

// banner reports whether addr greets with "SSH-".
func banner(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "SSH-")
}

// freePort picks a port the kernel considers free right now.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	return port, err
}

// ensurePrivsepDir creates /run/sshd when running as root and it is missing
// (containers have no systemd to create it); sshd refuses to start without it.
func ensurePrivsepDir(t testing.TB) {
	if os.Geteuid() != 0 {
		return
	}
	if _, err := os.Stat(privsepDir); err == nil {
		return
	}
	if err := os.MkdirAll(privsepDir, 0o755); err != nil {
		t.Fatalf("sshd needs its privilege separation folder: %v", err)
	}
}

// run runs a command, failing the test with its output on error.
func run(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// readFile returns a file's contents or fails the test.
func readFile(t testing.TB, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// writeFile writes a file or fails the test.
func writeFile(t testing.TB, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// copyFile copies a small file or fails the test.
func copyFile(t testing.TB, from, to string) {
	t.Helper()
	writeFile(t, to, readFile(t, from))
}
