package audit

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// yearOfTraffic is a year of busy traffic: 1,000,000 records.
const yearOfTraffic = 1_000_000

// writeYear writes a valid log of n records spread over 2026 (the eight
// records of each bundle's life — queued, claimed, uploaded, receipted,
// answered — for three partners, rotated by month like the daemon does)
// straight to disk, without Append's fsync per line. It returns the bytes written.
func writeYear(tb testing.TB, dir string, n int) int64 {
	tb.Helper()
	events := []string{EvQueued, EvClaimed, EvUploaded, EvReceipt, EvDownloaded, EvFiled, EvReceipt, EvRunFinished}
	partners := []string{"uk-hmrc", "fr-dgddi", "de-zoll"}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	step := 365 * 24 * time.Hour / time.Duration(n)
	prev, total := ZeroHash, int64(0)
	var f *os.File
	var w *bufio.Writer
	month := ""
	closeFile := func(name string) {
		if f == nil {
			return
		}
		if err := w.Flush(); err != nil {
			tb.Fatal(err)
		}
		f.Close()
		if err := os.Rename(f.Name(), filepath.Join(dir, name)); err != nil {
			tb.Fatal(err)
		}
	}
	first := int64(1)
	firstTime := ""
	for i := range n {
		now := start.Add(time.Duration(i) * step)
		ts := now.Format(TimeLayout)
		if m := ts[:7]; m != month {
			closeFile(RotatedName(first, firstTime))
			var err error
			if f, err = os.Create(filepath.Join(dir, FileName)); err != nil {
				tb.Fatal(err)
			}
			w, month, first, firstTime = bufio.NewWriterSize(f, 1<<20), m, int64(i+1), ts
		}
		id := fmt.Sprintf("0193b2c4-6d2e-7c1a-9f00-%012x", i/len(events))
		r := Record{Seq: int64(i + 1), Time: ts, Event: events[i%len(events)], Outcome: OutcomeOK, Prev: prev,
			Partner: partners[(i/len(events))%len(partners)], Bundle: id, Kind: "request", Bytes: int64(1000 + i%5000),
			File: "us-cbp_uk-hmrc_request_" + id + ".pgp", SHA256: ZeroHash, Self: "us-cbp",
			Host: "sftp.partner.example:22", HostKey: "SHA256:Yb8zVgTjFm0Xb0mD0u6CqPjS6u8qZsQh0eVnq4m1f2Q", User: "us-cbp"}
		switch r.Event { // each bundle is receipted and answered
		case EvReceipt:
			r.Bundle, r.Kind, r.InReplyTo = id+"-r", "receipt", id
		case EvFiled:
			r.Bundle, r.Kind, r.InReplyTo = id+"-a", "response", id
		}
		line, err := encode(r)
		if err != nil {
			tb.Fatal(err)
		}
		w.Write(line)
		total += int64(len(line))
		h := sha256.Sum256(line[:len(line)-1])
		prev = hex.EncodeToString(h[:])
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	f.Close()
	return total
}

// yearDir is one generated year, shared by the benchmarks of a run.
var yearDir string

func theYear(b *testing.B) string {
	b.Helper()
	if yearDir == "" {
		dir, err := os.MkdirTemp("", "sealpost-year-")
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		size := writeYear(b, dir, yearOfTraffic)
		b.Logf("wrote %d records (%d MB) in %v", yearOfTraffic, size>>20, time.Since(start).Round(time.Millisecond))
		yearDir = dir
	}
	return yearDir
}

// reportPeak reports the heap in use at its highest sampled point.
func reportPeak(b *testing.B, run func()) {
	b.Helper()
	runtime.GC()
	var peak uint64
	done := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	run()
	close(done)
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}

func BenchmarkVerify1M(b *testing.B) {
	dir := theYear(b)
	reportPeak(b, func() {
		for b.Loop() {
			sum, err := Verify(dir)
			if err != nil || sum.Records != yearOfTraffic || len(sum.Files) != 12 {
				b.Fatalf("Verify = %d records in %d files, %v", sum.Records, len(sum.Files), err)
			}
		}
	})
	b.ReportMetric(float64(yearOfTraffic*b.N)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkList1M(b *testing.B) {
	dir := theYear(b)
	since, _ := time.Parse(time.DateOnly, "2026-06-01")
	until, _ := time.Parse(time.DateOnly, "2026-07-01")
	f := Filter{Partner: "uk-hmrc", Events: []string{EvUploaded}, Since: since, Until: until}
	reportPeak(b, func() {
		for b.Loop() {
			w, _ := NewRecordWriter(io.Discard, FormatTable)
			n := 0
			err := List(dir, f, func(r Record) error { n++; return w.Write(r) })
			if err != nil || n == 0 {
				b.Fatalf("List = %d records, %v", n, err)
			}
			w.Flush()
		}
	})
	b.ReportMetric(float64(yearOfTraffic*b.N)/b.Elapsed().Seconds(), "records/s")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if yearDir != "" {
		os.RemoveAll(yearDir)
	}
	os.Exit(code)
}
