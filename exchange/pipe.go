package exchange

import (
	"errors"
	"io"
	"sync"
)

// chunkPipe is an io.Pipe with a few buffers of slack: Write copies into a
// free chunk and returns at once, so the writer (the sealer) only waits
// when the reader (the upload, the self-check) is that far behind. Memory
// is bounded: chunks × chunkSize.
type chunkPipe struct {
	full chan []byte
	free chan []byte
	cur  []byte // the chunk being filled (writer side)
	rest []byte // what the reader has not yet taken of its current chunk
	held []byte // that chunk's buffer, returned to free when taken
	made int    // buffers made so far (writer side)

	mu      sync.Mutex
	werr    error // why the writer stopped (io.EOF = closed normally)
	rerr    error // why the reader stopped
	stop    chan struct{}
	stopped sync.Once
}

const (
	pipeChunks    = 4
	pipeChunkSize = 256 << 10
)

func newChunkPipe() *chunkPipe {
	return &chunkPipe{full: make(chan []byte, pipeChunks), free: make(chan []byte, pipeChunks), stop: make(chan struct{})}
}

// Write copies b into chunks, sending each when full.
func (p *chunkPipe) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		if p.cur == nil {
			select {
			case p.cur = <-p.free:
			default:
				if p.made < pipeChunks { // buffers are made as needed
					p.made++
					p.cur = make([]byte, 0, pipeChunkSize)
					break
				}
				select {
				case p.cur = <-p.free:
				case <-p.stop:
					return 0, p.readErr()
				}
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

func (p *chunkPipe) send() error {
	select {
	case p.full <- p.cur:
		p.cur = nil
		return nil
	case <-p.stop:
		return p.readErr()
	}
}

// CloseWithError ends the stream: the reader gets what was written, then
// err (io.EOF when err is nil).
func (p *chunkPipe) CloseWithError(err error) error {
	if err == nil {
		err = io.EOF
	}
	if err == io.EOF && len(p.cur) > 0 {
		if serr := p.send(); serr != nil {
			return serr
		}
	}
	p.mu.Lock()
	if p.werr == nil {
		p.werr = err
	}
	p.mu.Unlock()
	close(p.full)
	return nil
}

// Close is CloseWithError(nil).
func (p *chunkPipe) Close() error { return p.CloseWithError(nil) }

// Read returns the written bytes in order, then the writer's close error.
func (p *chunkPipe) Read(b []byte) (int, error) {
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
func (p *chunkPipe) WriteTo(w io.Writer) (int64, error) {
	var total int64
	buf := make([]byte, 0)
	for {
		n, err := p.Read(buf) // returns the held chunk's buffer back first
		_ = n
		if err != nil {
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

// CloseRead stops the reader with err: the writer's next Write fails with
// it. Safe to call more than once, and from the reader's goroutine while
// the writer is blocked.
func (p *chunkPipe) CloseRead(err error) {
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

func (p *chunkPipe) readErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rerr
}
