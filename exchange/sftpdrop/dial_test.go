package sftpdrop

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/sealpost/sealpost/exchange/drop"
	"github.com/sealpost/sealpost/internal/sftpd"
)

// keyFromLine parses the key of a known_hosts line.
func keyFromLine(t testing.TB, line string) ssh.PublicKey {
	t.Helper()
	_, _, key, _, _, err := ssh.ParseKnownHosts([]byte(line))
	if err != nil {
		t.Fatalf("known_hosts line %q: %v", line, err)
	}
	return key
}

// writeKnownHosts writes lines to a new known_hosts file and returns its path.
func writeKnownHosts(t testing.TB, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "known_hosts")
	writeLocal(t, p, []byte(strings.Join(lines, "\n")+"\n"))
	return p
}

// otherKeyLine returns a known_hosts line for address with a fresh key of the given kind.
func otherKeyLine(t testing.TB, address, kind string) string {
	t.Helper()
	var pub any
	switch kind {
	case "ed25519":
		pub, _, _ = ed25519.GenerateKey(rand.Reader)
	case "ecdsa":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pub = &k.PublicKey
	}
	key, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return knownhosts.Line([]string{address}, key)
}

// dialOnce dials once and returns the error.
func dialOnce(cfg Config) error {
	d, err := Dial(context.Background(), cfg)
	if err == nil {
		d.Close()
	}
	return err
}

// checkHostKeyError asserts a permanent *HostKeyError that shows the
// server's fingerprint and the line to add, which is never retried.
func checkHostKeyError(t *testing.T, cfg Config, serverLine, wantText string) {
	t.Helper()
	err := dialOnce(cfg)
	var hk *HostKeyError
	if !errors.Is(err, ErrHostKey) || !errors.As(err, &hk) {
		t.Fatalf("Dial error = %v, want a *HostKeyError", err)
	}
	if !drop.IsPermanent(err) {
		t.Errorf("drop.IsPermanent(%v) = false, want true: a host key error is never retried", err)
	}
	fp := ssh.FingerprintSHA256(keyFromLine(t, serverLine))
	msg := err.Error()
	for _, want := range []string{fp, serverLine, wantText, cfg.KnownHosts} {
		if !strings.Contains(msg, want) {
			t.Errorf("error message lacks %q:\n%s", want, msg)
		}
	}
	if hk.Fingerprint() != fp || hk.Line() != serverLine {
		t.Errorf("Fingerprint %q, Line %q; want %q, %q", hk.Fingerprint(), hk.Line(), fp, serverLine)
	}
}

func TestHostKeyUnknown(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, srv testServer) {
		cfg := srv.cfg
		cfg.KnownHosts = writeKnownHosts(t, otherKeyLine(t, "other.example:22", "ed25519"))
		checkHostKeyError(t, cfg, srv.hostKeyLine, "is not in known_hosts")
	})
}

func TestHostKeyMismatch(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, srv testServer) {
		cfg := srv.cfg
		cfg.KnownHosts = writeKnownHosts(t, otherKeyLine(t, cfg.Address, "ed25519"))
		checkHostKeyError(t, cfg, srv.hostKeyLine, "does NOT match")
	})
}

// A server without a key of the type known_hosts lists fails the
// algorithm negotiation; the error still shows the key it offers.
func TestHostKeyTypeNotOffered(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, srv testServer) {
		cfg := srv.cfg
		cfg.KnownHosts = writeKnownHosts(t, otherKeyLine(t, cfg.Address, "ecdsa"))
		err := dialOnce(cfg)
		var hk *HostKeyError
		if !errors.As(err, &hk) || !drop.IsPermanent(err) {
			t.Fatalf("Dial error = %v, want a permanent *HostKeyError", err)
		}
		if hk.Key == nil || !strings.Contains(err.Error(), hk.Fingerprint()) || !strings.Contains(err.Error(), "ecdsa-sha2-nistp256") {
			t.Errorf("message should name the offered key and the known type:\n%v", err)
		}
	})
}

func TestHostKeyRevoked(t *testing.T) {
	t.Parallel()
	srv := startSftpd(t)
	cfg := srv.cfg
	cfg.KnownHosts = writeKnownHosts(t, "@revoked "+srv.hostKeyLine, srv.hostKeyLine)
	err := dialOnce(cfg)
	var hk *HostKeyError
	if !errors.As(err, &hk) || !hk.Revoked || !drop.IsPermanent(err) || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("Dial error = %v, want a permanent revoked *HostKeyError", err)
	}
}

// The pitfall: with both RSA and ed25519 host keys on the server and only
// ed25519 in known_hosts, the library's default preference picks RSA and
// the check fails. Dial restricts HostKeyAlgorithms to the known types.
func TestHostKeyAlgorithmsFromKnownHosts(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, srv testServer) {
		t.Run("library default fails", func(t *testing.T) {
			check, err := knownhosts.New(srv.cfg.KnownHosts)
			if err != nil {
				t.Fatal(err)
			}
			signer := loadSigner(t, srv.cfg.KeyFile)
			_, err = ssh.Dial("tcp", srv.cfg.Address, &ssh.ClientConfig{
				User: srv.cfg.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
				HostKeyCallback: check, Timeout: 5 * time.Second,
			})
			var kerr *knownhosts.KeyError
			if !errors.As(err, &kerr) || len(kerr.Want) == 0 {
				t.Fatalf("plain ssh.Dial = %v, want the knownhosts key mismatch this test guards against", err)
			}
		})
		t.Run("ed25519 known", func(t *testing.T) {
			d := dial(t, srv.cfg)
			if want := ssh.FingerprintSHA256(keyFromLine(t, srv.hostKeyLine)); d.HostKey() != want {
				t.Errorf("HostKey = %s, want the ed25519 key %s", d.HostKey(), want)
			}
		})
		t.Run("rsa known", func(t *testing.T) {
			cfg := srv.cfg
			cfg.KnownHosts = writeKnownHosts(t, srv.rsaKeyLine)
			d := dial(t, cfg)
			if want := ssh.FingerprintSHA256(keyFromLine(t, srv.rsaKeyLine)); d.HostKey() != want {
				t.Errorf("HostKey = %s, want the RSA key %s", d.HostKey(), want)
			}
		})
	}, sftpd.WithRSAHostKey())
}

// loadSigner reads a private key file.
func loadSigner(t testing.TB, path string) ssh.Signer {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.ParsePrivateKey(data)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestWrongClientKey(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, srv testServer) {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		block, err := ssh.MarshalPrivateKey(priv, "stranger")
		if err != nil {
			t.Fatal(err)
		}
		cfg := srv.cfg
		cfg.KeyFile = filepath.Join(t.TempDir(), "id_ed25519")
		if err := os.WriteFile(cfg.KeyFile, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		err = dialOnce(cfg)
		if !errors.Is(err, ErrAuth) || !drop.IsPermanent(err) {
			t.Fatalf("Dial = %v, want a permanent ErrAuth", err)
		}
		if !strings.Contains(err.Error(), cfg.KeyFile) {
			t.Errorf("message does not name the key file: %v", err)
		}
	})
}

func TestPassphraseProtectedKeyRefused(t *testing.T) {
	t.Parallel()
	srv := startSftpd(t)
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "locked", []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := srv.cfg
	cfg.KeyFile = filepath.Join(t.TempDir(), "id_ed25519")
	writeLocal(t, cfg.KeyFile, pem.EncodeToMemory(block))
	_, err = Dial(context.Background(), cfg)
	if !errors.Is(err, ErrConfig) || !drop.IsPermanent(err) || !strings.Contains(err.Error(), "passphrase") {
		t.Fatalf("Dial = %v, want a permanent ErrConfig about the passphrase", err)
	}
}

func TestMissingFilesAreConfigErrors(t *testing.T) {
	t.Parallel()
	srv := startSftpd(t)
	for name, mod := range map[string]func(*Config){
		"key":         func(c *Config) { c.KeyFile = filepath.Join(t.TempDir(), "nope") },
		"known_hosts": func(c *Config) { c.KnownHosts = filepath.Join(t.TempDir(), "nope") },
	} {
		cfg := srv.cfg
		mod(&cfg)
		if _, err := Dial(context.Background(), cfg); !errors.Is(err, ErrConfig) || !drop.IsPermanent(err) {
			t.Errorf("%s missing: Dial = %v, want permanent ErrConfig", name, err)
		}
	}
}

func TestDialDefaultsPort(t *testing.T) {
	t.Parallel()
	cfg := withDefaults(Config{Address: "sftp.example"})
	if cfg.Address != "sftp.example:22" || cfg.Timeout != DefaultTimeout {
		t.Errorf("withDefaults = %+v", cfg)
	}
}

func TestDialCancelledContext(t *testing.T) {
	t.Parallel()
	srv := startSftpd(t)
	// A listener that accepts and never speaks: only ctx can end the handshake early.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := srv.cfg
	cfg.Address, cfg.Timeout = ln.Addr().String(), time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = Dial(ctx, cfg)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("Dial = %v after %v, want the context's deadline error promptly", err, time.Since(start))
	}
}
