package sftpdrop

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// DefaultTimeout applies when Config.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// Config says where and how to connect.
type Config struct {
	Address    string        // host:port; port 22 when absent
	User       string        // login name
	KeyFile    string        // OpenSSH private key, unencrypted
	KnownHosts string        // known_hosts file; the server's key must be in it
	Timeout    time.Duration // dial, handshake and each operation's allowed stall; keepalives every Timeout/2
}

// Dial connects and logs in with strict host key checking. It offers only
// the host key algorithms known_hosts lists for the address, so a server
// with several host keys presents the one we know. Errors: *HostKeyError
// (errors.Is ErrHostKey), ErrAuth, ErrConfig, ErrTimeout, or the network error.
func Dial(ctx context.Context, cfg Config) (*Drop, error) {
	cfg = withDefaults(cfg)
	signer, err := loadKey(cfg.KeyFile)
	if err != nil {
		return nil, err
	}
	check, err := knownhosts.New(cfg.KnownHosts)
	if err != nil {
		return nil, fmt.Errorf("known_hosts file %s: %w: %w", cfg.KnownHosts, ErrConfig, err)
	}
	want := knownTypes(check, cfg.Address)
	var hostKey ssh.PublicKey
	var keyErr *HostKeyError
	config := &ssh.ClientConfig{
		User:              cfg.User,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyAlgorithms: algorithmsFor(want),
		HostKeyCallback: func(hostname string, remote net.Addr, key ssh.PublicKey) error {
			hostKey = key
			if err := check(hostname, remote, key); err != nil {
				keyErr = newHostKeyError(cfg, key, want, err)
				return keyErr
			}
			return nil
		},
		Timeout: cfg.Timeout,
	}
	conn, client, err := handshake(ctx, cfg, config)
	switch {
	case keyErr != nil:
		return nil, keyErr
	case err != nil && strings.Contains(err.Error(), "no common algorithm for host key"):
		return nil, mismatchedAlgorithms(ctx, cfg, want, err)
	case err != nil:
		return nil, err
	}
	return start(ctx, cfg, conn, client, ssh.FingerprintSHA256(hostKey))
}

// withDefaults fills in the default port and timeout.
func withDefaults(cfg Config) Config {
	if _, _, err := net.SplitHostPort(cfg.Address); err != nil {
		cfg.Address = net.JoinHostPort(cfg.Address, "22")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	return cfg
}

// loadKey reads an unencrypted OpenSSH private key.
func loadKey(path string) (ssh.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("SSH private key: %w: %w", ErrConfig, err)
	}
	signer, err := ssh.ParsePrivateKey(data)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		return nil, fmt.Errorf("SSH private key %s is protected by a passphrase, which sealpost cannot use unattended; remove it with ssh-keygen -p -N '' -f %s: %w", path, path, ErrConfig)
	}
	if err != nil {
		return nil, fmt.Errorf("SSH private key %s: %w: %w", path, ErrConfig, err)
	}
	return signer, nil
}

// probeKey is checked against known_hosts only to learn which key types it
// lists for an address; it never matches.
var probeKey = sync.OnceValue(func() ssh.PublicKey {
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	key, err := ssh.NewPublicKey(pub)
	if err != nil {
		panic(err)
	}
	return key
})

// knownTypes returns the key types known_hosts lists for address, in file order.
func knownTypes(check ssh.HostKeyCallback, address string) []string {
	var kerr *knownhosts.KeyError
	if !errors.As(check(address, &net.TCPAddr{}, probeKey()), &kerr) {
		return nil
	}
	var types []string
	for _, k := range kerr.Want {
		if t := k.Key.Type(); !contains(types, t) {
			types = append(types, t)
		}
	}
	return types
}

// unknownHostAlgorithms are offered to a host known_hosts does not list, so
// that the error shows its best key: the library's default prefers RSA.
var unknownHostAlgorithms = []string{
	ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
	ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256,
}

// algorithmsFor maps key types to host key signature algorithms; RSA keys
// sign with SHA-2 only.
func algorithmsFor(types []string) []string {
	if len(types) == 0 {
		return unknownHostAlgorithms
	}
	var algos []string
	for _, t := range types {
		if t == ssh.KeyAlgoRSA {
			algos = append(algos, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256)
			continue
		}
		algos = append(algos, t)
	}
	return algos
}

// contains reports whether list holds s.
func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// newHostKeyError describes a failed known_hosts check.
func newHostKeyError(cfg Config, key ssh.PublicKey, want []string, err error) *HostKeyError {
	var revoked *knownhosts.RevokedError
	return &HostKeyError{
		Address: cfg.Address, KnownHosts: cfg.KnownHosts, Key: key, Want: want,
		Revoked: errors.As(err, &revoked), Err: err,
	}
}

// mismatchedAlgorithms builds the error for a server that has no host key
// of the types known_hosts lists; a second handshake fetches the key it does
// offer, for the message.
func mismatchedAlgorithms(ctx context.Context, cfg Config, want []string, err error) error {
	var offered ssh.PublicKey
	errProbe := errors.New("probe only")
	probe := &ssh.ClientConfig{
		User: cfg.User,
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			offered = key
			return errProbe
		},
		Timeout: cfg.Timeout,
	}
	if _, _, perr := handshake(ctx, cfg, probe); offered == nil {
		err = fmt.Errorf("%w; reading the offered key: %w", err, perr)
	}
	return &HostKeyError{Address: cfg.Address, KnownHosts: cfg.KnownHosts, Key: offered, Want: want, Err: err}
}

// handshake dials and runs the SSH handshake under cfg.Timeout and ctx.
func handshake(ctx context.Context, cfg Config, config *ssh.ClientConfig) (net.Conn, *ssh.Client, error) {
	dialer := net.Dialer{Timeout: cfg.Timeout}
	conn, err := dialer.DialContext(ctx, "tcp", cfg.Address)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to SFTP server %s: %w", cfg.Address, err)
	}
	conn.SetDeadline(time.Now().Add(cfg.Timeout))
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	c, chans, reqs, err := ssh.NewClientConn(conn, cfg.Address, config)
	cancelled := !stop()
	if err != nil || cancelled {
		conn.Close()
		return nil, nil, handshakeError(ctx, cfg, err)
	}
	conn.SetDeadline(time.Time{})
	return conn, ssh.NewClient(c, chans, reqs), nil
}

// handshakeError classifies a failed handshake.
func handshakeError(ctx context.Context, cfg Config, err error) error {
	var nerr net.Error
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("SSH handshake with %s: %w", cfg.Address, context.Cause(ctx))
	case strings.Contains(err.Error(), "unable to authenticate"):
		return fmt.Errorf("SFTP server %s refused login as %q with key %s: %w", cfg.Address, cfg.User, cfg.KeyFile, ErrAuth)
	case errors.As(err, &nerr) && nerr.Timeout():
		return fmt.Errorf("SSH handshake with %s took longer than %s: %w", cfg.Address, cfg.Timeout, ErrTimeout)
	}
	return fmt.Errorf("SSH handshake with %s: %w", cfg.Address, err)
}

// start opens the SFTP session (bounded by the timeout) and starts keepalives.
func start(ctx context.Context, cfg Config, conn net.Conn, client *ssh.Client, hostKey string) (*Drop, error) {
	d := &Drop{
		addr: cfg.Address, hostKey: hostKey, timeout: cfg.Timeout,
		conn: conn, ssh: client, stop: make(chan struct{}),
	}
	err := d.do(ctx, "start session", "", func(func()) error {
		var err error
		d.sftp, err = sftp.NewClient(client, sftp.UseConcurrentWrites(true))
		return err
	})
	if err != nil {
		client.Close()
		return nil, err
	}
	_, d.posixRename = d.sftp.HasExtension("posix-rename@openssh.com")
	go d.keepalive()
	return d, nil
}
