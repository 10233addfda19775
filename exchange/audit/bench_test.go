package audit

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func BenchmarkAppend(b *testing.B) {
	l, _ := openLog(b)
	r := Record{Event: EvUploaded, Outcome: OutcomeOK, Partner: "uk-hmrc", Bundle: "0193b2c4-6d2e-7c1a-9f00-3b1c2d4e5f60",
		Kind: "request", File: "us-cbp_uk-hmrc_request_0193b2c4-6d2e-7c1a-9f00-3b1c2d4e5f60.pgp", Bytes: 123456, SHA256: ZeroHash}
	for b.Loop() {
		if _, err := l.Append(r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// writeChain writes a valid log of n records to dir without syncing each
// line, and returns the file's size.
func writeChain(b *testing.B, dir string, n int) int64 {
	b.Helper()
	f, err := os.Create(filepath.Join(dir, FileName))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	prev := ZeroHash
	for i := range n {
		line, err := encode(Record{Seq: int64(i + 1), Time: "2026-11-27T22:04:35.000Z", Event: EvFiled, Outcome: OutcomeOK, Prev: prev,
			Partner: "uk-hmrc", Bundle: "0193b2c4-6d2e-7c1a-9f00-3b1c2d4e5f60", File: fmt.Sprintf("file-%d.pgp", i), Bytes: int64(i), SHA256: ZeroHash})
		if err != nil {
			b.Fatal(err)
		}
		w.Write(line)
		prev = hashHex(line[:len(line)-1])
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	fi, err := f.Stat()
	if err != nil {
		b.Fatal(err)
	}
	return fi.Size()
}

func BenchmarkVerify(b *testing.B) {
	const n = 100_000
	dir := b.TempDir()
	b.SetBytes(writeChain(b, dir, n))
	for b.Loop() {
		sum, err := Verify(dir)
		if err != nil || sum.Records != n {
			b.Fatalf("Verify = %+v, %v", sum, err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkAppendConcurrent appends from 32 goroutines at once, as a daemon
// pushing many small items does; group commit shares the fsyncs.
func BenchmarkAppendConcurrent(b *testing.B) {
	l, _ := openLog(b)
	r := Record{Event: EvUploaded, Outcome: OutcomeOK, Partner: "uk-hmrc", Bundle: "0193b2c4-6d2e-7c1a-9f00-3b1c2d4e5f60",
		Kind: "request", File: "us-cbp_uk-hmrc_request_0193b2c4-6d2e-7c1a-9f00-3b1c2d4e5f60.pgp", Bytes: 123456, SHA256: ZeroHash}
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := l.Append(r); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(l.syncs)/float64(b.N), "fsyncs/record")
}
