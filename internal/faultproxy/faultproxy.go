// Package faultproxy is a TCP proxy for fault tests: it forwards
// connections on loopback to a target until a byte budget is spent, then
// cuts or stalls them, so a test can break a transfer at a chosen point.
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
)

// Proxy forwards TCP connections to a target within a byte budget counted
// over both directions and all connections.
type Proxy struct {
	ln     net.Listener
	target string
	mode   Mode
	done   chan struct{}

	mu     sync.Mutex
	budget int64 // bytes still allowed through; -1: unlimited
	heal   bool  // after a fault, be healthy again
	faults int
	conns  []net.Conn
}

// Start listens on 127.0.0.1 in front of target with an unlimited budget;
// the proxy stops when the test ends.
func Start(t testing.TB, target string, mode Mode) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, mode: mode, budget: -1, done: make(chan struct{})}
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
