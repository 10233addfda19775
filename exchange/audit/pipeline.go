package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"sync"
)

// Verifying is mostly parsing JSON and hashing, which do not depend on the
// lines before; only the links do. So a file is read in batches of lines,
// the batches are parsed and hashed on every CPU, and the chain is checked
// batch by batch in file order. Memory stays bounded: at most
// batchesInFlight batches of batchLines lines are alive at once.
const (
	batchLines = 512
	batchBytes = 1 << 20
)

// batch is a run of consecutive lines of one file.
type batch struct {
	first int64    // line number of lines[0]
	lines []parsed // the lines, parsed and hashed once done is closed
	buf   []byte   // their bytes
	err   error    // a read error after the last line, at line first+len(lines)
	done  chan struct{}
}

// parsed is one line, parsed and hashed.
type parsed struct {
	start, end int  // the line in buf, without its newline
	complete   bool // it ended in a newline
	rec        Record
	sum        string
	bad        string // why it does not parse; "" if it does
}

// readBatches reads lines into batches, sending each to work (to be parsed)
// and to order (to be checked in order), until EOF, an error or stop.
func readBatches(lr *lineReader, work, order chan<- *batch, stop <-chan struct{}) {
	defer close(work)
	defer close(order)
	num := int64(1)
	for {
		b := batchPool.Get().(*batch)
		b.first, b.lines, b.buf, b.err, b.done = num, b.lines[:0], b.buf[:0], nil, make(chan struct{})
		eof := fillBatch(lr, b)
		num += int64(len(b.lines))
		select {
		case order <- b:
		case <-stop:
			return
		}
		select {
		case work <- b:
		case <-stop:
			return
		}
		if eof || b.err != nil {
			return
		}
	}
}

// fillBatch reads up to batchLines lines (batchBytes bytes) into b and
// reports whether the file ended.
func fillBatch(lr *lineReader, b *batch) bool {
	for len(b.lines) < batchLines && len(b.buf) < batchBytes {
		data, complete, err := lr.next()
		if err == io.EOF {
			return true
		}
		if err != nil {
			b.err = err
			return false
		}
		start := len(b.buf)
		b.buf = append(b.buf, data...)
		b.lines = append(b.lines, parsed{start: start, end: len(b.buf), complete: complete})
	}
	return false
}

// parseBatches parses and hashes the lines of each batch from work.
func parseBatches(work <-chan *batch) {
	for b := range work {
		for i := range b.lines {
			p := &b.lines[i]
			data := b.buf[p.start:p.end]
			if len(data) == 0 {
				p.bad = "empty line"
			} else if err := json.Unmarshal(data, &p.rec); err != nil {
				p.bad, p.rec = fmt.Sprintf("unparsable JSON (%v)", err), Record{}
			}
			h := sha256.Sum256(data)
			p.sum = hex.EncodeToString(h[:])
		}
		close(b.done)
	}
}

// lines checks the lines of a file in order, with the parsing and hashing
// done in parallel (see batch). It stops at the first bad line.
func (c *chain) lines(path string, lr *lineReader) error {
	work, order := make(chan *batch, runtime.GOMAXPROCS(0)), make(chan *batch, 2*runtime.GOMAXPROCS(0)+1)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() { parseBatches(work) })
	}
	go readBatches(lr, work, order, stop)
	defer func() {
		close(stop)
		for range order { // let the reader finish; its batches are dropped
		}
		wg.Wait()
	}()
	for b := range order {
		<-b.done
		if err := c.batch(path, b); err != nil {
			return err
		}
		clear(b.lines) // drop the records' strings
		batchPool.Put(b)
	}
	return nil
}

// batchPool recycles batches and their buffers.
var batchPool = sync.Pool{New: func() any { return &batch{} }}

// batch checks one parsed batch's lines and advances the chain.
func (c *chain) batch(path string, b *batch) error {
	for i := range b.lines {
		if err := c.line(path, b.first+int64(i), &b.lines[i]); err != nil {
			return err
		}
	}
	if b.err != nil {
		return c.lineErr(path, b.first+int64(len(b.lines)), 0, b.err)
	}
	return nil
}
