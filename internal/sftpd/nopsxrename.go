package sftpd

import (
	"encoding/binary"
	"errors"
	"io"
	"sync"
)

// posixRenameExt is the SFTP extension a server without posix-rename omits.
const posixRenameExt = "posix-rename@openssh.com"

// hideExtension wraps an SFTP channel and removes one extension from the
// server's SSH_FXP_VERSION reply, the first packet the server writes. pkg/sftp
// only offers a process-wide switch for its extension list; this keeps the
// choice per server.
type hideExtension struct {
	io.ReadWriteCloser
	name string

	mu   sync.Mutex
	buf  []byte // bytes of the first packet written so far
	done bool   // first packet rewritten and sent
}

// Write passes bytes through once the version packet has been rewritten.
func (h *hideExtension) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done {
		return h.ReadWriteCloser.Write(p)
	}
	h.buf = append(h.buf, p...)
	if len(h.buf) < 4 {
		return len(p), nil
	}
	size := 4 + int(binary.BigEndian.Uint32(h.buf))
	if len(h.buf) < size {
		return len(p), nil
	}
	pkt, err := dropExtension(h.buf[:size], h.name)
	if err != nil {
		return 0, err
	}
	h.done = true
	if _, err := h.ReadWriteCloser.Write(append(pkt, h.buf[size:]...)); err != nil {
		return 0, err
	}
	h.buf = nil
	return len(p), nil
}

// errVersionPacket reports a first server packet that is not SSH_FXP_VERSION.
var errVersionPacket = errors.New("sftpd: first SFTP packet is not a well-formed SSH_FXP_VERSION")

// dropExtension re-encodes an SSH_FXP_VERSION packet (uint32 length, byte 2,
// uint32 version, then pairs of strings) without the named extension.
func dropExtension(pkt []byte, name string) ([]byte, error) {
	const fxpVersion = 2
	if len(pkt) < 9 || pkt[4] != fxpVersion {
		return nil, errVersionPacket
	}
	out := append([]byte(nil), pkt[:9]...)
	rest := pkt[9:]
	for len(rest) > 0 {
		ext, val, tail, ok := readPair(rest)
		if !ok {
			return nil, errVersionPacket
		}
		if string(ext) != name {
			out = appendString(appendString(out, ext), val)
		}
		rest = tail
	}
	binary.BigEndian.PutUint32(out, uint32(len(out)-4))
	return out, nil
}

// readPair reads two SSH strings.
func readPair(b []byte) (first, second, rest []byte, ok bool) {
	first, rest, ok = readString(b)
	if !ok {
		return nil, nil, nil, false
	}
	second, rest, ok = readString(rest)
	return first, second, rest, ok
}

// readString reads one uint32-length-prefixed SSH string.
func readString(b []byte) (s, rest []byte, ok bool) {
	if len(b) < 4 {
		return nil, nil, false
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return nil, nil, false
	}
	return b[4 : 4+n], b[4+n:], true
}

// appendString appends an SSH string.
func appendString(b, s []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}
