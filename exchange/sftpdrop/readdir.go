package sftpdrop

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/sealpost/sealpost/exchange/drop"
	"github.com/sealpost/sealpost/internal/safetext"
)

// The SFTP client library reads a whole folder into memory before it
// returns (a server that lists without end grew it to 1.1 GiB), so folders
// are read here page by page, over a second SFTP channel of the same
// connection, and the reading stops at a cap.

// SFTP version 3 packet types and attribute flags (draft-ietf-secsh-filexfer-02).
const (
	fxpInit    = 1
	fxpVersion = 2
	fxpClose   = 4
	fxpOpendir = 11
	fxpReaddir = 12
	fxpStatus  = 101
	fxpHandle  = 102
	fxpName    = 104

	attrSize        = 0x1
	attrUIDGID      = 0x2
	attrPermissions = 0x4
	attrACModTime   = 0x8
	attrExtended    = 0x80000000

	fxEOF              = 1 // SSH_FX_EOF
	fxNoSuchFile       = 2 // SSH_FX_NO_SUCH_FILE
	fxPermissionDenied = 3 // SSH_FX_PERMISSION_DENIED
)

// maxPagePacket is the largest listing packet accepted; OpenSSH sends
// pages of at most 100 names, far below it.
const maxPagePacket = 256 << 10

// pager is an SFTP channel used only to read folders.
type pager struct {
	sess *ssh.Session
	in   io.WriteCloser
	out  *bufio.Reader
	id   uint32
}

// openPager starts the SFTP subsystem on a new session of the connection.
func (d *Drop) openPager() (*pager, error) {
	sess, err := d.ssh.NewSession()
	if err != nil {
		return nil, fmt.Errorf("open a listing channel: %w", err)
	}
	p := &pager{sess: sess}
	if err := p.start(); err != nil {
		sess.Close()
		return nil, err
	}
	return p, nil
}

// start wires the session's pipes and exchanges INIT and VERSION.
func (p *pager) start() error {
	in, err := p.sess.StdinPipe()
	if err != nil {
		return err
	}
	out, err := p.sess.StdoutPipe()
	if err != nil {
		return err
	}
	p.in, p.out = in, bufio.NewReaderSize(out, 64<<10)
	if err := p.sess.RequestSubsystem("sftp"); err != nil {
		return fmt.Errorf("start the sftp subsystem for listing: %w", err)
	}
	if err := p.send(fxpInit, u32(3)); err != nil {
		return err
	}
	typ, _, err := p.recv()
	if err == nil && typ != fxpVersion {
		err = fmt.Errorf("listing channel: the server answered INIT with packet type %d", typ)
	}
	return err
}

// close ends the session.
func (p *pager) close() {
	p.in.Close()
	p.sess.Close()
}

// send writes one packet: length, type, then the fields as given.
func (p *pager) send(typ byte, fields ...[]byte) error {
	n := 1
	for _, f := range fields {
		n += len(f)
	}
	buf := make([]byte, 0, 4+n)
	buf = binary.BigEndian.AppendUint32(buf, uint32(n))
	buf = append(buf, typ)
	for _, f := range fields {
		buf = append(buf, f...)
	}
	_, err := p.in.Write(buf)
	return err
}

// recv reads one packet, refusing any longer than maxPagePacket.
func (p *pager) recv() (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(p.out, hdr[:]); err != nil {
		return 0, nil, fmt.Errorf("read a listing packet: %w", err)
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	if n < 1 || n > maxPagePacket {
		return 0, nil, fmt.Errorf("listing packet of %d bytes (at most %d accepted)", n, maxPagePacket)
	}
	data := make([]byte, n-1)
	if _, err := io.ReadFull(p.out, data); err != nil {
		return 0, nil, fmt.Errorf("read a listing packet: %w", err)
	}
	return hdr[4], data, nil
}

// request sends a packet with a new id and reads the answer, checking the id.
func (p *pager) request(typ byte, fields ...[]byte) (byte, *decoder, error) {
	p.id++
	if err := p.send(typ, append([][]byte{u32(p.id)}, fields...)...); err != nil {
		return 0, nil, err
	}
	rtyp, data, err := p.recv()
	if err != nil {
		return 0, nil, err
	}
	dec := &decoder{b: data}
	if id := dec.u32(); dec.err == nil && id != p.id {
		return 0, nil, fmt.Errorf("listing answer for request %d, expected %d", id, p.id)
	}
	return rtyp, dec, dec.err
}

// opendir opens dir and returns its handle.
func (p *pager) opendir(dir string) (string, error) {
	typ, dec, err := p.request(fxpOpendir, str(dir))
	if err != nil {
		return "", err
	}
	switch typ {
	case fxpHandle:
		h := dec.str()
		return h, dec.err
	case fxpStatus:
		return "", dec.status()
	}
	return "", fmt.Errorf("the server answered OPENDIR with packet type %d", typ)
}

// readdir reads one page of handle, calling fn for each entry but "." and
// "..". It returns true at the end of the folder, and the number of
// entries in the page, "." and ".." included.
func (p *pager) readdir(handle string, fn func(fs.FileInfo)) (bool, int, error) {
	typ, dec, err := p.request(fxpReaddir, str(handle))
	if err != nil {
		return false, 0, err
	}
	switch typ {
	case fxpStatus:
		if err := dec.status(); !errors.Is(err, io.EOF) {
			return false, 0, err
		}
		return true, 0, nil
	case fxpName:
	default:
		return false, 0, fmt.Errorf("the server answered READDIR with packet type %d", typ)
	}
	count := dec.u32()
	n := 0
	for ; uint32(n) < count && dec.err == nil; n++ {
		name := dec.str()
		dec.str() // long name, for humans
		fi := dec.attrs(name)
		if dec.err == nil && name != "." && name != ".." {
			fn(fi)
		}
	}
	return false, n, dec.err
}

// closeHandle closes a handle; the answer is read and ignored.
func (p *pager) closeHandle(handle string) {
	p.request(fxpClose, str(handle))
}

// walkDir reads dir page by page, calling fn for each entry, until the end
// of the folder (then it returns true), until drop.MaxScanned entries of any
// name were read or until ctx ends; kick is called for each page.
func (d *Drop) walkDir(ctx context.Context, dir string, kick func(), fn func(fs.FileInfo)) (bool, error) {
	if err := context.Cause(ctx); err != nil {
		return false, err
	}
	p, err := d.openPager()
	if err != nil {
		return false, err
	}
	defer p.close()
	handle, err := p.opendir(dir)
	if err != nil {
		return false, err
	}
	defer p.closeHandle(handle)
	// Every entry read counts, whatever its name, and a page at least one:
	// a server that sends "." or empty pages without end is stopped too.
	for read := 0; read < drop.MaxScanned; {
		if err := context.Cause(ctx); err != nil {
			return false, err
		}
		kick()
		end, n, err := p.readdir(handle, fn)
		if err != nil || end {
			return end, err
		}
		read += max(n, 1)
	}
	return false, nil
}

// decoder reads SFTP fields from a packet, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.err = errors.New("listing packet is truncated")
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u32() uint32 {
	if v := d.take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if v := d.take(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (d *decoder) str() string {
	n := d.u32()
	if n > uint32(len(d.b)) {
		d.err = errors.New("listing packet is truncated")
		return ""
	}
	return string(d.take(int(n)))
}

// attrs reads an ATTRS structure as the file information for name.
func (d *decoder) attrs(name string) fs.FileInfo {
	flags := d.u32()
	var st sftp.FileStat
	if flags&attrSize != 0 {
		st.Size = d.u64()
	}
	if flags&attrUIDGID != 0 {
		st.UID, st.GID = d.u32(), d.u32()
	}
	if flags&attrPermissions != 0 {
		st.Mode = d.u32()
	}
	if flags&attrACModTime != 0 {
		st.Atime, st.Mtime = d.u32(), d.u32()
	}
	if flags&attrExtended != 0 {
		for n := d.u32(); n > 0 && d.err == nil; n-- {
			d.str()
			d.str()
		}
	}
	// The name as sent, not path.Base of it (as the SFTP library does): a
	// name with a slash is then refused as hostile, not fetched as another.
	return &dirEntry{name: name, st: st}
}

// status turns a STATUS packet into an error (io.EOF for SSH_FX_EOF).
func (d *decoder) status() error {
	code := d.u32()
	msg := d.str()
	if d.err != nil {
		return d.err
	}
	switch code {
	case fxEOF:
		return io.EOF
	case fxNoSuchFile:
		return fmt.Errorf("the server says %q: %w", safetext.Cut(msg, 200), fs.ErrNotExist)
	case fxPermissionDenied:
		return fmt.Errorf("the server says %q: %w", safetext.Cut(msg, 200), fs.ErrPermission)
	}
	return fmt.Errorf("the server refused the listing: %q (status %d)", safetext.Cut(msg, 200), code)
}

// dirEntry is a folder entry as READDIR describes it (lstat information).
type dirEntry struct {
	name string
	st   sftp.FileStat
}

func (l *dirEntry) Name() string       { return l.name }
func (l *dirEntry) Size() int64        { return int64(l.st.Size) }
func (l *dirEntry) Mode() fs.FileMode  { return l.st.FileMode() }
func (l *dirEntry) ModTime() time.Time { return l.st.ModTime() }
func (l *dirEntry) IsDir() bool        { return l.st.FileMode().IsDir() }
func (l *dirEntry) Sys() any           { return &l.st }

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func str(s string) []byte { return append(u32(uint32(len(s))), s...) }
