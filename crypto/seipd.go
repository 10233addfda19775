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

// seipdBuffers is how many chunk buffers a SEIPDv1 writer may use: the one
// being filled and up to three queued or being encrypted.
const seipdBuffers = 4

// seipd1Writer writes a SEIPDv1 packet (RFC 4880 §5.13): version 1, then
// AES-CFB with a zero IV (no resynchronisation) over a random prefix of a
// block plus its last two octets repeated, the plaintext, and the MDC
// packet (0xD3 0x14 and the SHA-1 of everything before it, itself included
// up to its length octet). crypto/cipher's CFB works a block at a time;
// go-crypto's OCFB a byte at a time.
//
// The work is pipelined: the writer's goroutine hashes the plaintext
// (SHA-1) and copies it into a chunk buffer; full chunks are queued to a
// sender goroutine that encrypts each in place and writes it, framed with
// a partial length, to w. So the cipher, the slowest step, does not share a
// core with the hashes of the layers above (the signature's, the bundle's)
// nor with reading the input. The sender runs while the queue holds chunks
// and ends when it is empty (an abandoned writer leaves no goroutine); only
// it touches w and the cipher after the start. At most seipdBuffers
// buffers exist (memory stays flat); Close waits until all are back.
type seipd1Writer struct {
	w    io.Writer
	cfb  cipher.Stream
	mdc  hash.Hash
	cur  []byte      // chunk being filled: [length octet][body], cap 1+chunkSize
	skip int         // octets at the start of cur's body sent unencrypted (the version)
	free chan []byte // buffers the sender is done with
	made int         // buffers allocated
	err  error       // the caller side's

	mu      sync.Mutex
	queue   []seipdChunk // chunks to encrypt and send, in order
	running bool         // a sender goroutine is running
	werr    error        // the sender's first error
}

// seipdChunk is a full chunk, or the last one, to encrypt and send.
type seipdChunk struct {
	buf  []byte
	skip int
	last bool
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
	// SEIPDv1 is CFB by definition (RFC 9580 §5.13.1): the GnuPG 2.2
	// partners read nothing else. Integrity comes from the MDC.
	//lint:ignore SA1019 the OpenPGP format, not a choice: see above.
	s := &seipd1Writer{w: w, cfb: cipher.NewCFBEncrypter(block, make([]byte, aes.BlockSize)), mdc: sha1.New(),
		cur: newChunk(), made: 1, free: make(chan []byte, seipdBuffers)}
	s.cur, s.skip = append(s.cur, 1), 1 // packet version
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

// newChunk returns an empty chunk buffer with the partial length octet.
func newChunk() []byte {
	b := make([]byte, 1, 1+chunkSize)
	b[0] = 0xE0 | chunkPower
	return b
}

func (s *seipd1Writer) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	s.mdc.Write(p)
	return len(p), s.put(p)
}

// put copies p into the pending chunk (not hashing it), queueing each chunk
// that fills.
func (s *seipd1Writer) put(p []byte) error {
	for len(p) > 0 {
		c := copy(s.cur[len(s.cur):cap(s.cur)], p)
		s.cur, p = s.cur[:len(s.cur)+c], p[c:]
		if len(s.cur) == cap(s.cur) {
			if err := s.flush(false); err != nil {
				return err
			}
		}
	}
	return nil
}

// flush queues the pending chunk and takes a free buffer for the next; the
// last chunk it waits for, with all before it.
func (s *seipd1Writer) flush(last bool) error {
	s.mu.Lock()
	err := s.werr
	if err == nil {
		s.queue = append(s.queue, seipdChunk{s.cur, s.skip, last})
	}
	start := err == nil && !s.running
	if start {
		s.running = true
	}
	s.mu.Unlock()
	if err != nil {
		s.err = err
		return err
	}
	if start {
		go s.sendQueued()
	}
	s.cur, s.skip = nil, 0
	if last {
		for range s.made {
			<-s.free
		}
		s.made = 0
	} else {
		s.cur = s.buffer()
	}
	s.mu.Lock()
	err = s.werr
	s.mu.Unlock()
	if err != nil {
		s.err = err
	}
	return err
}

// buffer returns an empty chunk buffer: a free one, or a new one while
// fewer than seipdBuffers exist.
func (s *seipd1Writer) buffer() []byte {
	if s.made < seipdBuffers {
		select {
		case b := <-s.free:
			return b[:1]
		default:
		}
		s.made++
		return newChunk()
	}
	return (<-s.free)[:1]
}

// sendQueued encrypts and sends the queued chunks in order until the queue
// is empty, handing each buffer back (unsent after an error).
func (s *seipd1Writer) sendQueued() {
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			s.running = false
			s.mu.Unlock()
			return
		}
		c := s.queue[0]
		s.queue = s.queue[1:]
		failed := s.werr != nil
		s.mu.Unlock()
		if !failed {
			if err := s.send(c); err != nil {
				s.mu.Lock()
				s.werr = err
				s.mu.Unlock()
			}
		}
		s.free <- c.buf
	}
}

// send encrypts c's body after its first skip octets in place and writes
// it to w.
func (s *seipd1Writer) send(c seipdChunk) error {
	body := c.buf[1:]
	s.cfb.XORKeyStream(body[c.skip:], body[c.skip:])
	if !c.last {
		_, err := s.w.Write(c.buf)
		return err
	}
	if _, err := s.w.Write(appendLength(make([]byte, 0, 5), len(body))); err != nil {
		return err
	}
	_, err := s.w.Write(body)
	return err
}

// Close appends the MDC packet, ends the SEIPD packet and returns when all
// of it has been written to w.
func (s *seipd1Writer) Close() error {
	if s.err != nil {
		return s.err
	}
	tag := []byte{0xD3, 0x14}
	s.mdc.Write(tag)
	if err := s.put(s.mdc.Sum(tag)); err != nil {
		return err
	}
	if err := s.flush(true); err != nil {
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
