// Package faultproxy is a TCP proxy for fault tests: it forwards
// connections on loopback to a target until a byte budget is spent, then
// cuts or stalls them, or delivers late what the client sent, so a test can
// break a transfer at a chosen point.
package faultproxy

import (
	"net"
	"sync"
	"testing"
)

// Mode is what the proxy does once the budget is spent.
type Mode int

const (
	// Cut closes both sides of the connection.
	Cut Mode = iota
	// Stall holds the connection open and forwards nothing more.
	Stall
	// Late stalls the connection, keeps what the client sends from then
	// on until the client gives up and closes it, and delivers that to the
	// target only at Release: a server still working through requests of
	// a connection its client has abandoned and replaced.
	Late
)

// Proxy forwards TCP connections to a target within a byte budget counted
// over both directions and all connections.
type Proxy struct {
	ln     net.Listener
	target string
	mode   Mode
	done   chan struct{}

	release     chan struct{} // closed by Release
	releaseOnce sync.Once

	mu     sync.Mutex
	budget int64 // bytes still allowed through; -1: unlimited
	heal   bool  // after a fault, be healthy again
	faults int
	conns  []net.Conn
	late   []chan struct{} // each closed when its Late connection is done
}

// Start listens on 127.0.0.1 in front of target with an unlimited budget;
// the proxy stops when the test ends.
func Start(t testing.TB, target string, mode Mode) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, mode: mode, budget: -1, done: make(chan struct{}), release: make(chan struct{})}
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Addr is where clients connect.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetBudget lets n more bytes through (-1: unlimited, healthy again).
func (p *Proxy) SetBudget(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.budget = n
}

// HealAfterFault makes the fault strike once: the connection it hits
// fails, and the budget becomes unlimited for the rest.
func (p *Proxy) HealAfterFault() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.heal = true
}

// Faults counts the connections the budget has cut or stalled.
func (p *Proxy) Faults() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.faults
}

// Close stops the proxy and all its connections.
func (p *Proxy) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.done:
		return
	default:
	}
	close(p.done)
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
}

// accept forwards each new connection.
func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		if p.mode == Late {
			go p.lateConn(c, s, p.lateStarted())
			continue
		}
		go p.pipe(s, c)
		go p.pipe(c, s)
	}
}

// take returns how many of n bytes may pass, and counts a fault when the
// budget runs out.
func (p *Proxy) take(n int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.budget < 0 {
		return n
	}
	a := min(int64(n), p.budget)
	p.budget -= a
	if int(a) < n {
		p.faults++
		if p.heal {
			p.budget = -1
		}
	}
	return int(a)
}

// pipe copies src to dst within the budget, then stalls or cuts.
func (p *Proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			a := p.take(n)
			if _, werr := dst.Write(buf[:a]); werr != nil {
				return
			}
			if a < n {
				if p.mode == Stall {
					<-p.done
				}
				dst.Close()
				src.Close()
				return
			}
		}
		if err != nil {
			dst.Close()
			return
		}
	}
}

// Release delivers what Late connections held to the target, closes them,
// and returns once the target has closed each of them, that is, has
// handled every request it was sent.
func (p *Proxy) Release() {
	p.releaseOnce.Do(func() { close(p.release) })
	p.mu.Lock()
	late := p.late
	p.mu.Unlock()
	for _, done := range late {
		<-done
	}
}

// lateStarted registers a Late connection for Release to wait for, and
// returns the channel to close when it is done.
func (p *Proxy) lateStarted() chan struct{} {
	done := make(chan struct{})
	p.mu.Lock()
	defer p.mu.Unlock()
	p.late = append(p.late, done)
	return done
}

// lateConn forwards one connection in Late mode: within the budget like
// pipe; then, the client's bytes are held until it closes and Release is
// called, while the target's are dropped.
func (p *Proxy) lateConn(c, s net.Conn, done chan struct{}) {
	defer close(done)
	stalled := make(chan struct{})
	var once sync.Once
	stall := func() { once.Do(func() { close(stalled) }) }
	serverGone := make(chan struct{})
	go func() { // target → client
		defer close(serverGone)
		buf := make([]byte, 32<<10)
		for {
			n, err := s.Read(buf)
			if n > 0 && !isClosed(stalled) {
				a := p.take(n)
				c.Write(buf[:a])
				if a < n {
					stall()
				}
			}
			if err != nil {
				if !isClosed(stalled) {
					c.Close()
				}
				return
			}
		}
	}()
	held := p.holdClient(c, s, stalled, stall)
	c.Close()
	if !isClosed(stalled) {
		s.Close()
		return
	}
	select {
	case <-p.release:
		s.Write(held)
		s.(*net.TCPConn).CloseWrite()
		<-serverGone
	case <-p.done:
	}
	s.Close()
}

// holdClient copies the client's bytes to the target within the budget
// and returns those sent after the stall, read until the client closed.
func (p *Proxy) holdClient(c, s net.Conn, stalled chan struct{}, stall func()) []byte {
	var held []byte
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			a := 0
			if !isClosed(stalled) {
				a = p.take(n)
				s.Write(buf[:a])
				if a < n {
					stall()
				}
			}
			held = append(held, buf[a:n]...)
		}
		if err != nil {
			return held
		}
	}
}

// isClosed reports whether ch is closed.
func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
