package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha1"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
)

// OpenPGP packet framing written by Seal itself (RFC 4880 §4.2): new-format
// headers and partial body lengths. go-crypto's partial-length writer copies
// every write into a growing buffer; these writers emit fixed power-of-two
// chunks and pass large writes through without copying.

const (
	tagLiteral = 11 // literal data packet
	tagSEIPD   = 18 // sym. encrypted integrity protected data packet

	// chunkPower is the partial body length Seal uses: 2^18 = 256 KiB.
	chunkPower = 18
	chunkSize  = 1 << chunkPower
)

// newFormatHeader is the first octet of a new-format packet header.
func newFormatHeader(tag byte) byte { return 0xC0 | tag }

// appendLength appends a new-format definite body length (RFC 4880 §4.2.2).
func appendLength(b []byte, n int) []byte {
	switch {
	case n < 192:
		return append(b, byte(n))
	case n < 8384:
		n -= 192
		return append(b, byte(n>>8)+192, byte(n))
	}
	return append(b, 0xFF, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// partialBody frames a packet body with partial lengths of chunkSize: full
// chunks as they fill, and a definite length for the rest at Close (the
// first partial length is at least 512 octets, as the RFC asks). Write
// passes full chunks of large writes straight through.
type partialBody struct {
	w   io.Writer
	buf []byte // [length octet][up to chunkSize pending body octets]
	err error
}

func newPartialBody(w io.Writer) *partialBody {
	b := &partialBody{w: w, buf: make([]byte, 1, 1+chunkSize)}
	b.buf[0] = 0xE0 | chunkPower
	return b
}

func (b *partialBody) Write(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n := len(p)
	for len(p) > 0 {
		if len(b.buf) == 1 && len(p) >= chunkSize {
			// Nothing pending: send a whole chunk from p without copying.
			if _, b.err = b.w.Write(b.buf[:1]); b.err != nil {
				return 0, b.err
			}
			if _, b.err = b.w.Write(p[:chunkSize]); b.err != nil {
				return 0, b.err
			}
			p = p[chunkSize:]
			continue
		}
		c := copy(b.buf[len(b.buf):cap(b.buf)], p)
		b.buf, p = b.buf[:len(b.buf)+c], p[c:]
		if len(b.buf) == cap(b.buf) {
			if _, b.err = b.w.Write(b.buf); b.err != nil {
				return 0, b.err
			}
			b.buf = b.buf[:1]
		}
	}
	return n, nil
}

// Close writes the last chunk with a definite length.
func (b *partialBody) Close() error {
	if b.err != nil {
		return b.err
	}
	rest := b.buf[1:]
	hdr := appendLength(make([]byte, 0, 5), len(rest))
	if _, b.err = b.w.Write(hdr); b.err == nil {
		_, b.err = b.w.Write(rest)
	}
	if b.err == nil {
		b.err = errClosed
		return nil
	}
	return b.err
}

// framedOut is partialBody for a producer that writes its output straight
// into the pending chunk (the cipher encrypts into it): no copy.
type framedOut struct {
	w   io.Writer
	buf []byte // [length octet][pending body octets], cap 1+chunkSize
	err error
}

func newFramedOut(w io.Writer) *framedOut {
	f := &framedOut{w: w, buf: make([]byte, 1, 1+chunkSize)}
	f.buf[0] = 0xE0 | chunkPower
	return f
}

// space returns the free part of the pending chunk.
func (f *framedOut) space() []byte { return f.buf[len(f.buf):cap(f.buf)] }

// fill marks n octets of space as written, sending the chunk when full.
func (f *framedOut) fill(n int) error {
	f.buf = f.buf[:len(f.buf)+n]
	if len(f.buf) == cap(f.buf) {
		if _, f.err = f.w.Write(f.buf); f.err != nil {
			return f.err
		}
		f.buf = f.buf[:1]
	}
	return nil
}

// close sends what is pending with a definite length.
func (f *framedOut) close() error {
	rest := f.buf[1:]
	hdr := appendLength(make([]byte, 0, 5), len(rest))
	if _, f.err = f.w.Write(hdr); f.err == nil {
		_, f.err = f.w.Write(rest)
	}
	return f.err
}

// mdcParallelMin is the write size from which the MDC's SHA-1 runs in its
// own goroutine, beside the encryption of the same bytes.
const mdcParallelMin = 16 << 10

// seipd1Writer writes a SEIPDv1 packet (RFC 4880 §5.13): version 1, then
// AES-CFB with a zero IV (no resynchronisation) over a random prefix of a
// block plus its last two octets repeated, the plaintext, and the MDC
// packet (0xD3 0x14 and the SHA-1 of everything before it, itself included
// up to its length octet). crypto/cipher's CFB works a block at a time;
// go-crypto's OCFB a byte at a time.
type seipd1Writer struct {
	out    *framedOut
	cfb    cipher.Stream
	mdc    hash.Hash
	err    error
	closed bool
}

// newSEIPD1 starts a SEIPDv1 packet in w encrypted with AES-256 under key.
func newSEIPD1(w io.Writer, key []byte) (*seipd1Writer, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write([]byte{newFormatHeader(tagSEIPD)}); err != nil {
		return nil, err
	}
	s := &seipd1Writer{out: newFramedOut(w), cfb: cipher.NewCFBEncrypter(block, make([]byte, aes.BlockSize)), mdc: sha1.New()}
	s.out.buf = append(s.out.buf, 1) // packet version
	prefix := make([]byte, aes.BlockSize+2)
	if _, err := io.ReadFull(rand.Reader, prefix[:aes.BlockSize]); err != nil {
		return nil, fmt.Errorf("random prefix: %w", err)
	}
	copy(prefix[aes.BlockSize:], prefix[aes.BlockSize-2:aes.BlockSize])
	if _, err := s.Write(prefix); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *seipd1Writer) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if len(p) < mdcParallelMin {
		s.mdc.Write(p)
		return len(p), s.encrypt(p)
	}
	var wg sync.WaitGroup
	wg.Go(func() { s.mdc.Write(p) })
	err := s.encrypt(p)
	wg.Wait()
	return len(p), err
}

// encrypt encrypts p into the framed output (not hashing it).
func (s *seipd1Writer) encrypt(p []byte) error {
	for len(p) > 0 {
		dst := s.out.space()
		n := min(len(dst), len(p))
		s.cfb.XORKeyStream(dst[:n], p[:n])
		if err := s.out.fill(n); err != nil {
			s.err = err
			return err
		}
		p = p[n:]
	}
	return nil
}

// Close appends the MDC packet and ends the SEIPD packet.
func (s *seipd1Writer) Close() error {
	if s.err != nil {
		return s.err
	}
	tag := []byte{0xD3, 0x14}
	s.mdc.Write(tag)
	if err := s.encrypt(s.mdc.Sum(tag)); err != nil {
		return err
	}
	if err := s.out.close(); err != nil {
		s.err = err
		return err
	}
	s.err = errors.New("seal: encrypted data packet already closed")
	return nil
}

// literalWriter writes a binary literal data packet with no file name and
// a zero date, as go-crypto's SerializeLiteral(w, true, "", 0) does, framed
// with partial lengths.
type literalWriter struct{ *partialBody }

func newLiteral(w io.Writer) (*literalWriter, error) {
	if _, err := w.Write([]byte{newFormatHeader(tagLiteral)}); err != nil {
		return nil, err
	}
	b := newPartialBody(w)
	if _, err := b.Write([]byte{'b', 0, 0, 0, 0, 0}); err != nil {
		return nil, err
	}
	return &literalWriter{b}, nil
}
