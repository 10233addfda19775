package sftpd

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/crypto/ssh"
)

// File names written into keyDir by Start.
const (
	ClientKeyFile  = "id_ed25519"              // client private key, OpenSSH format, 0600
	KnownHostsFile = "known_hosts"             // one line naming the server's ed25519 host key
	hostKeyFile    = "ssh_host_ed25519_key"    // server host key, OpenSSH format, 0600
	rsaHostKeyFile = "ssh_host_rsa_key"        // second host key when WithRSAHostKey is used
	rsaHostKeyBits = 2048                      // enough for a loopback test server, quick to generate
	privateKeyMode = fs.FileMode(0o600)        // like ssh-keygen
	keyComment     = "sealpost internal sftpd" // comment stored in generated keys
)

// loadOrCreateKey returns the signer stored in path, creating the file with a
// new key from gen when it does not exist yet. Reusing an existing key keeps
// the host key stable across runs of `sealpost demo`.
func loadOrCreateKey(path string, gen func() (crypto.Signer, error)) (ssh.Signer, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		signer, err := ssh.ParsePrivateKey(data)
		if err != nil {
			return nil, fmt.Errorf("sftpd: key file %s: %w", path, err)
		}
		return signer, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("sftpd: key file %s: %w", path, err)
	}
	key, err := gen()
	if err != nil {
		return nil, fmt.Errorf("sftpd: generate key for %s: %w", path, err)
	}
	if err := writePrivateKey(path, key); err != nil {
		return nil, err
	}
	return ssh.NewSignerFromSigner(key)
}

// writePrivateKey stores key in OpenSSH format with mode 0600.
func writePrivateKey(path string, key crypto.Signer) error {
	block, err := ssh.MarshalPrivateKey(key, keyComment)
	if err != nil {
		return fmt.Errorf("sftpd: encode key %s: %w", path, err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), privateKeyMode); err != nil {
		return fmt.Errorf("sftpd: write key: %w", err)
	}
	return nil
}

// newEd25519 generates an ed25519 key.
func newEd25519() (crypto.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	return priv, err
}

// newRSA generates an RSA key.
func newRSA() (crypto.Signer, error) {
	return rsa.GenerateKey(rand.Reader, rsaHostKeyBits)
}

// writeKnownHosts writes the known_hosts file naming key for addr.
func writeKnownHosts(path, line string) error {
	if err := os.WriteFile(path, []byte(line+"\n"), 0o644); err != nil {
		return fmt.Errorf("sftpd: write known_hosts: %w", err)
	}
	return nil
}
