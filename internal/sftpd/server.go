// Package sftpd is an in-process SSH+SFTP server on the loopback interface,
// serving one folder to one client key. sealpost's tests and `sealpost demo`
// use it as the partner's drop.
package sftpd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// handshakeTimeout bounds how long a client may take to log in.
const handshakeTimeout = 30 * time.Second

// Server is a running SSH+SFTP server on 127.0.0.1.
type Server struct {
	Addr           string // "127.0.0.1:port"
	HostKeyLine    string // known_hosts line for the ed25519 host key
	RSAHostKeyLine string // known_hosts line for the RSA host key; "" without WithRSAHostKey
	Root           string // absolute path of the folder served as "/"
	ClientKey      string // path of the client private key (keyDir/id_ed25519)
	KnownHosts     string // path of the known_hosts file (keyDir/known_hosts)

	ln     net.Listener
	config *ssh.ServerConfig
	fsys   *rootFS
	log    *slog.Logger
	wg     sync.WaitGroup

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

// Option changes how Start sets up the server.
type Option func(*options)

type options struct {
	noPosixRename bool
	refuseRename  bool
	extra         []string
	lies          *lies
	rsaHostKey    bool
	authorized    []ssh.PublicKey
	log           *slog.Logger
}

// WithoutPosixRename makes the server behave like one lacking the
// posix-rename@openssh.com extension: it is not announced and is refused.
func WithoutPosixRename() Option { return func(o *options) { o.noPosixRename = true } }

// WithRefuseRename makes every rename fail with "permission denied".
func WithRefuseRename() Option { return func(o *options) { o.refuseRename = true } }

// WithExtraNames makes the server lie: every folder listing also holds
// these names, as small regular files, though no file system could hold
// them ("a/b.pgp", "../x.pgp"). Fetching them fails.
func WithExtraNames(names ...string) Option {
	return func(o *options) { o.extra = append(o.extra, names...) }
}

// WithRSAHostKey adds a second host key (RSA) that is NOT written to
// known_hosts; its line is in Server.RSAHostKeyLine.
func WithRSAHostKey() Option { return func(o *options) { o.rsaHostKey = true } }

// WithAuthorizedKey accepts key as well as the generated client key.
func WithAuthorizedKey(key ssh.PublicKey) Option {
	return func(o *options) { o.authorized = append(o.authorized, key) }
}

// WithLogger logs connection errors to l (default: discarded).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// Start serves SFTP rooted at root (paths like /inbound map to root/inbound)
// on a free 127.0.0.1 port. In keyDir (created if needed) it keeps the client
// key id_ed25519 (0600) and the host keys, reusing them when present, and
// writes known_hosts naming the ed25519 host key. Any user name is accepted;
// only the client key (and keys given with WithAuthorizedKey) may log in.
// Close stops the server.
func Start(root, keyDir string, opts ...Option) (*Server, error) {
	o := options{log: slog.New(slog.DiscardHandler), lies: &lies{}}
	for _, opt := range opts {
		opt(&o)
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("sftpd: root folder %s: %w", root, err)
	}
	if err := os.MkdirAll(keyDir, 0o700); err != nil {
		return nil, fmt.Errorf("sftpd: key folder: %w", err)
	}
	s := &Server{
		Root:       root,
		ClientKey:  filepath.Join(keyDir, ClientKeyFile),
		KnownHosts: filepath.Join(keyDir, KnownHostsFile),
		log:        o.log,
		conns:      make(map[net.Conn]struct{}),
	}
	hostKeys, err := s.configure(keyDir, o)
	if err != nil {
		return nil, err
	}
	return s, s.listen(root, hostKeys, o)
}

// configure loads or creates the keys and builds the SSH server configuration.
func (s *Server) configure(keyDir string, o options) ([]ssh.Signer, error) {
	client, err := loadOrCreateKey(s.ClientKey, newEd25519)
	if err != nil {
		return nil, err
	}
	authorized := append([]ssh.PublicKey{client.PublicKey()}, o.authorized...)
	s.config = &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			for _, a := range authorized {
				if bytes.Equal(a.Marshal(), key.Marshal()) {
					return &ssh.Permissions{}, nil
				}
			}
			return nil, errors.New("sftpd: public key not authorized")
		},
	}
	host, err := loadOrCreateKey(filepath.Join(keyDir, hostKeyFile), newEd25519)
	if err != nil {
		return nil, err
	}
	hostKeys := []ssh.Signer{host}
	if o.rsaHostKey {
		rsaKey, err := loadOrCreateKey(filepath.Join(keyDir, rsaHostKeyFile), newRSA)
		if err != nil {
			return nil, err
		}
		hostKeys = append(hostKeys, rsaKey)
	}
	for _, k := range hostKeys {
		s.config.AddHostKey(k)
	}
	return hostKeys, nil
}

// listen opens the root and the listener, writes known_hosts and starts accepting.
func (s *Server) listen(root string, hostKeys []ssh.Signer, o options) error {
	r, err := os.OpenRoot(root)
	if err != nil {
		return fmt.Errorf("sftpd: root folder: %w", err)
	}
	o.lies.dropConns = s.dropConns
	s.fsys = &rootFS{root: r, noPosixRename: o.noPosixRename, refuseRename: o.refuseRename, extra: o.extra, lies: o.lies}
	s.ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		r.Close()
		return fmt.Errorf("sftpd: listen on loopback: %w", err)
	}
	s.Addr = s.ln.Addr().String()
	s.HostKeyLine = knownhosts.Line([]string{s.Addr}, hostKeys[0].PublicKey())
	if len(hostKeys) > 1 {
		s.RSAHostKeyLine = knownhosts.Line([]string{s.Addr}, hostKeys[1].PublicKey())
	}
	if err := writeKnownHosts(s.KnownHosts, s.HostKeyLine); err != nil {
		s.ln.Close()
		r.Close()
		return err
	}
	s.wg.Add(1)
	go s.accept()
	return nil
}

// Close stops accepting, closes every connection, waits for their
// goroutines to finish and releases the root folder.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	err := s.ln.Close()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	if rerr := s.fsys.root.Close(); err == nil {
		err = rerr
	}
	return err
}

// dropConns closes every connection, leaving the server running.
func (s *Server) dropConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

// accept runs until the listener is closed.
func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		if !s.track(c) {
			c.Close()
			return
		}
		s.wg.Add(1)
		go s.serveConn(c)
	}
}

// track records c so that Close can end it; false once the server is closed.
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

// untrack forgets c.
func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
}

// serveConn runs the SSH handshake and serves the connection's sessions.
func (s *Server) serveConn(c net.Conn) {
	defer s.wg.Done()
	defer s.untrack(c)
	defer c.Close()
	c.SetDeadline(time.Now().Add(handshakeTimeout))
	sc, chans, reqs, err := ssh.NewServerConn(c, s.config)
	if err != nil {
		s.log.Debug("sftpd: handshake failed", "remote", c.RemoteAddr().String(), "err", err)
		return
	}
	defer sc.Close()
	c.SetDeadline(time.Time{})
	go ssh.DiscardRequests(reqs) // answers keepalive@openssh.com with "failure", as OpenSSH does
	var sessions sync.WaitGroup
	defer sessions.Wait()
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "only session channels are served")
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			continue
		}
		sessions.Add(1)
		go func() {
			defer sessions.Done()
			s.session(ch, chReqs)
		}()
	}
}

// session serves one SSH session: it starts the sftp subsystem once and
// refuses everything else (shells, commands, forwarding).
func (s *Server) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	started := false
	for req := range reqs {
		ok := !started && req.Type == "subsystem" && isSFTP(req.Payload)
		if req.WantReply {
			req.Reply(ok, nil)
		}
		if ok {
			started = true
			s.wg.Add(1) // the connection's own count is still held here
			go s.serveSFTP(ch)
		}
	}
}

// isSFTP reports whether a subsystem request payload names "sftp".
func isSFTP(payload []byte) bool {
	var msg struct{ Name string }
	return ssh.Unmarshal(payload, &msg) == nil && msg.Name == "sftp"
}

// serveSFTP runs the SFTP request server on ch, then reports exit status 0
// and closes the channel.
func (s *Server) serveSFTP(ch ssh.Channel) {
	defer s.wg.Done()
	var rwc io.ReadWriteCloser = ch
	if s.fsys.noPosixRename {
		rwc = &hideExtension{ReadWriteCloser: ch, name: posixRenameExt}
	}
	rs := sftp.NewRequestServer(rwc, s.fsys.handlers())
	if err := rs.Serve(); err != nil && !errors.Is(err, io.EOF) {
		s.log.Debug("sftpd: sftp session ended", "err", err)
	}
	rs.Close()
	ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{0}))
	ch.Close()
}
