package exchange_test

import (
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkPushSmallItems pushes 100 items of 4 KiB, each sealed as its
// own bundle, over the in-process server; it reports items per second.
func BenchmarkPushSmallItems(b *testing.B) {
	w := newWorld(b, loopbackServer(b), "", us, uk)
	out := w.sides[us].state("outbox", uk)
	buf := make([]byte, 4096)
	for b.Loop() {
		b.StopTimer()
		for i := range 100 {
			rand.Read(buf)
			must(b, os.WriteFile(filepath.Join(out, fmt.Sprintf("item-%03d.bin", i)), buf, 0o600))
		}
		b.StartTimer()
		if res := w.run(us, uk); res.Pushed != 100 {
			b.Fatalf("pushed %d", res.Pushed)
		}
	}
	b.ReportMetric(float64(100*b.N)/b.Elapsed().Seconds(), "items/s")
}

// BenchmarkPushPullLarge pushes one 256 MiB item (seal, self-check,
// upload) and pulls it on the other side (download, open, file).
func BenchmarkPushPullLarge(b *testing.B) {
	const size = 256 << 20
	w := newWorld(b, loopbackServer(b), "", us, uk)
	src := filepath.Join(b.TempDir(), "big.bin")
	f, err := os.Create(src)
	must(b, err)
	_, err = io.CopyN(f, rand.Reader, size)
	must(b, err)
	must(b, f.Close())
	b.Run("push", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			b.StopTimer()
			must(b, os.Link(src, filepath.Join(w.sides[us].state("outbox", uk), "big.bin")))
			must(b, os.Remove(src))
			b.StartTimer()
			w.run(us, uk)
			b.StopTimer()
			must(b, os.Rename(firstFile(b, w.sides[us].state("sent", uk)), src+".sent"))
			// Keep the source for the next round; drop the evidence copy.
			os.Remove(src + ".sent")
			regenerate(b, src, size)
			b.StartTimer()
		}
	})
	b.Run("pull", func(b *testing.B) {
		w.run(uk, us) // what the push rounds left
		b.SetBytes(size)
		for b.Loop() {
			b.StopTimer()
			must(b, os.Link(src, filepath.Join(w.sides[us].state("outbox", uk), "big.bin")))
			must(b, os.Remove(src))
			w.run(us, uk)
			regenerate(b, src, size)
			b.StartTimer()
			if res := w.run(uk, us); res.Filed != 1 {
				b.Fatalf("filed %d", res.Filed)
			}
		}
	})
}

func firstFile(b *testing.B, dir string) string {
	ents, err := os.ReadDir(dir)
	must(b, err)
	return filepath.Join(dir, ents[0].Name())
}

func regenerate(b *testing.B, path string, size int64) {
	f, err := os.Create(path)
	must(b, err)
	_, err = io.CopyN(f, rand.Reader, size)
	must(b, err)
	must(b, f.Close())
}
