package chunkpipe

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"sync"
	"testing"
)

// A pipe delivers what was written, in order, across chunk boundaries,
// through Read and WriteTo alike, then the writer's close error.
func TestChunkPipe(t *testing.T) {
	data := make([]byte, 3*ChunkSize+12345)
	rand.Read(data)
	for _, viaWriteTo := range []bool{false, true} {
		p := New()
		got := make(chan []byte)
		go func() {
			var b bytes.Buffer
			if viaWriteTo {
				p.WriteTo(&b)
			} else {
				io.Copy(struct{ io.Writer }{&b}, struct{ io.Reader }{p})
			}
			got <- b.Bytes()
		}()
		for rest := data; len(rest) > 0; {
			n := min(len(rest), 70000)
			if _, err := p.Write(rest[:n]); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
		}
		p.Close()
		if !bytes.Equal(<-got, data) {
			t.Fatalf("WriteTo=%v: data differs", viaWriteTo)
		}
	}
	// A reader that stops makes the writer fail with its reason, at once.
	p := New()
	stop := errors.New("reader gave up")
	p.CloseRead(stop)
	var err error
	for range 2 * Chunks {
		if _, err = p.Write(make([]byte, ChunkSize)); err != nil {
			break
		}
	}
	if !errors.Is(err, stop) {
		t.Fatalf("Write after CloseRead = %v", err)
	}
	// The writer's error reaches the reader after the data.
	p = New()
	p.Write([]byte("abc"))
	p.CloseWithError(stop)
	b, err := io.ReadAll(p)
	if string(b) != "" || !errors.Is(err, stop) { // a partial chunk is not sent on error
		t.Fatalf("ReadAll = %q, %v", b, err)
	}
}

// Closing the writer's end twice is harmless (the first close decides what
// the reader gets), and a Write after it fails with io.ErrClosedPipe, as
// with io.Pipe.
func TestChunkPipeCloseTwice(t *testing.T) {
	p := New()
	p.Write([]byte("abc"))
	if err := p.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if err := p.CloseWithError(errors.New("late")); err != nil {
		t.Fatalf("CloseWithError after Close = %v", err)
	}
	if n, err := p.Write([]byte("x")); n != 0 || !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("Write after Close = %d, %v", n, err)
	}
	b, err := io.ReadAll(p)
	if string(b) != "abc" || err != nil {
		t.Fatalf("ReadAll = %q, %v", b, err)
	}
	p.CloseRead(nil)
	p.CloseRead(errors.New("again"))
}

// Both ends may close at the same time, with the writer blocked on a full
// pipe or not: nothing panics, nothing hangs, and the writer sees either
// its own close or the reader's error.
func TestChunkPipeCloseBothEnds(t *testing.T) {
	stop := errors.New("reader gave up")
	for i := range 50 {
		p := New()
		var wg sync.WaitGroup
		wg.Add(3)
		go func() {
			defer wg.Done()
			for range Chunks + 2 { // more than the slack: blocks until CloseRead
				if _, err := p.Write(make([]byte, ChunkSize)); err != nil {
					if !errors.Is(err, stop) && !errors.Is(err, io.ErrClosedPipe) {
						t.Errorf("Write = %v", err)
					}
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				p.CloseWithError(errors.New("writer gave up"))
			} else {
				p.Close()
			}
		}()
		go func() {
			defer wg.Done()
			p.CloseRead(stop)
			p.CloseRead(nil)
		}()
		wg.Wait()
		p.Close()
	}
}
