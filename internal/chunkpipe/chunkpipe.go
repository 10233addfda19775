// Package chunkpipe is an io.Pipe with a few buffers of slack, for the
// engine's streams: the sealer writing to the upload and the self-check,
// the download feeding the open beside it.
package chunkpipe

import (
	"errors"
	"io"
	"sync"
)

// Pipe is an io.Pipe with a few buffers of slack: Write copies into a free
// chunk and returns at once, so the writer only waits when the reader is
// that far behind. Memory is bounded: Chunks × ChunkSize.
//
// The writer's end (Write, Close, CloseWithError) and the reader's end
// (Read, WriteTo, CloseRead) may each be used from its own goroutine, and
// the two ends may close at the same time. Closing an end twice is
// harmless; the first close decides.
type Pipe struct {
	full chan []byte
	free chan []byte

	wmu     sync.Mutex // serialises the writer's end
	cur     []byte     // the chunk being filled
	made    int        // buffers made so far
	wclosed bool       // Close or CloseWithError was called

	rest []byte // what the reader has not yet taken of its current chunk
	held []byte // that chunk's buffer, returned to free when taken

	mu      sync.Mutex
	werr    error // why the writer stopped (io.EOF = closed normally)
	rerr    error // why the reader stopped
	stop    chan struct{}
	stopped sync.Once
}

// The pipe's slack: Chunks buffers of ChunkSize bytes.
const (
	Chunks    = 4
	ChunkSize = 256 << 10
)

// New returns an empty pipe.
func New() *Pipe {
	return &Pipe{full: make(chan []byte, Chunks), free: make(chan []byte, Chunks), stop: make(chan struct{})}
}

// Write copies b into chunks, sending each when full. After Close it
// fails with io.ErrClosedPipe; after CloseRead with the reader's error.
func (p *Pipe) Write(b []byte) (int, error) {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if p.wclosed {
		return 0, io.ErrClosedPipe
	}
	n := len(b)
	for len(b) > 0 {
		if p.cur == nil {
			if err := p.take(); err != nil {
				return 0, err
			}
		}
		c := copy(p.cur[len(p.cur):cap(p.cur)], b)
		p.cur, b = p.cur[:len(p.cur)+c], b[c:]
		if len(p.cur) == cap(p.cur) {
			if err := p.send(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

// take makes p.cur a free buffer: one the reader gave back, a new one while
// fewer than Chunks exist, or else the next one given back.
func (p *Pipe) take() error {
	select {
	case p.cur = <-p.free:
		return nil
	default:
	}
	if p.made < Chunks {
		p.made++
		p.cur = make([]byte, 0, ChunkSize)
		return nil
	}
	select {
	case p.cur = <-p.free:
		return nil
	case <-p.stop:
		return p.readErr()
	}
}

// send passes the current chunk to the reader.
func (p *Pipe) send() error {
	select {
	case p.full <- p.cur:
		p.cur = nil
		return nil
	case <-p.stop:
		return p.readErr()
	}
}

// CloseWithError ends the stream: the reader gets what was written, then
// err (io.EOF when err is nil). A partial chunk is sent only on a normal
// close. It waits for a Write in progress; a second call does nothing.
func (p *Pipe) CloseWithError(err error) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if p.wclosed {
		return nil
	}
	p.wclosed = true
	if err == nil {
		err = io.EOF
	}
	var serr error
	if err == io.EOF && len(p.cur) > 0 {
		serr = p.send()
	}
	p.mu.Lock()
	if p.werr == nil {
		p.werr = err
	}
	p.mu.Unlock()
	close(p.full)
	return serr
}

// Close is CloseWithError(nil).
func (p *Pipe) Close() error { return p.CloseWithError(nil) }

// Read returns the written bytes in order, then the writer's close error.
func (p *Pipe) Read(b []byte) (int, error) {
	for len(p.rest) == 0 {
		if p.held != nil {
			p.free <- p.held[:0]
			p.held = nil
		}
		c, ok := <-p.full
		if !ok {
			p.mu.Lock()
			defer p.mu.Unlock()
			return 0, p.werr
		}
		p.held, p.rest = c, c
	}
	n := copy(b, p.rest)
	p.rest = p.rest[n:]
	return n, nil
}

// WriteTo passes whole chunks to w without another copy.
func (p *Pipe) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if _, err := p.Read(nil); err != nil { // gives the held chunk's buffer back first
			if err == io.EOF {
				return total, nil
			}
			return total, err
		}
		if len(p.rest) > 0 {
			m, werr := w.Write(p.rest)
			total += int64(m)
			p.rest = p.rest[len(p.rest):]
			if werr != nil {
				return total, werr
			}
		}
	}
}

// CloseRead stops the reader with err (a generic error when nil): the
// writer's next Write fails with it, and a Write waiting for the reader
// fails at once. Only the first call counts.
func (p *Pipe) CloseRead(err error) {
	if err == nil {
		err = errors.New("pipe reader closed")
	}
	p.stopped.Do(func() {
		p.mu.Lock()
		p.rerr = err
		p.mu.Unlock()
		close(p.stop)
	})
}

// readErr is the reader's reason for stopping.
func (p *Pipe) readErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rerr
}
