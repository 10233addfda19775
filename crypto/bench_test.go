package crypto

import (
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// benchSize is the plaintext streamed per benchmark iteration.
const benchSize = 64 << 20

// writeStream writes size bytes of random-looking data to w in 1 MiB writes.
func writeStream(w io.Writer, size int64) error {
	chunk := make([]byte, 1<<20)
	rand.Read(chunk)
	for size > 0 {
		n := min(size, int64(len(chunk)))
		if _, err := w.Write(chunk[:n]); err != nil {
			return err
		}
		size -= n
	}
	return nil
}

// sealStream seals size bytes from self to to into w.
func sealStream(tb testing.TB, w io.Writer, self *Self, to *Peer, opt SealOptions, size int64) {
	tb.Helper()
	sw, err := Seal(w, self, to, opt)
	if err != nil {
		tb.Fatal(err)
	}
	if err := writeStream(sw, size); err != nil {
		tb.Fatal(err)
	}
	if err := sw.Close(); err != nil {
		tb.Fatal(err)
	}
}

var benchProfiles = []Profile{ProfileRFC4880, ProfileRFC9580}

func BenchmarkSeal(b *testing.B) {
	us := cachedParty(b, "us-ed25519", KeyEd25519)
	them := cachedParty(b, "them-ed25519", KeyEd25519)
	for _, p := range benchProfiles {
		b.Run(string(p), func(b *testing.B) {
			b.SetBytes(benchSize)
			for b.Loop() {
				sealStream(b, io.Discard, us.self, them.peer(b), SealOptions{Profile: p}, benchSize)
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	us := cachedParty(b, "us-ed25519", KeyEd25519)
	them := cachedParty(b, "them-ed25519", KeyEd25519)
	for _, p := range benchProfiles {
		b.Run(string(p), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "msg.pgp")
			f, err := os.Create(path)
			if err != nil {
				b.Fatal(err)
			}
			sealStream(b, f, them.self, us.peer(b), SealOptions{Profile: p}, benchSize)
			f.Close()
			from := them.peer(b)
			b.SetBytes(benchSize)
			for b.Loop() {
				f, err := os.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				m, err := Open(f, us.self, from, OpenOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, m); err != nil {
					b.Fatal(err)
				}
				f.Close()
			}
		})
	}
}

// peakHeap runs fn and returns the largest heap in use seen while it ran.
func peakHeap(fn func()) uint64 {
	runtime.GC()
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	fn()
	close(done)
	return peak.Load()
}

// Seal piped into Open uses the same memory for 4 MiB and 128 MiB.
func TestStreamingMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 128 MiB")
	}
	us := cachedParty(t, "us-ed25519", KeyEd25519)
	them := cachedParty(t, "them-ed25519", KeyEd25519)
	pipeline := func(size int64, p Profile) func() {
		return func() {
			pr, pw := io.Pipe()
			go func() {
				sw, err := Seal(pw, them.self, us.peer(t), SealOptions{Profile: p, Compress: true})
				if err == nil {
					err = writeStream(sw, size)
				}
				if err == nil {
					err = sw.Close()
				}
				pw.CloseWithError(err)
			}()
			m, err := Open(pr, us.self, them.peer(t), OpenOptions{})
			if err != nil {
				t.Error(err)
				return
			}
			if n, err := io.Copy(io.Discard, m); err != nil || n != size {
				t.Errorf("opened %d bytes, %v", n, err)
			}
		}
	}
	for _, p := range benchProfiles {
		small := peakHeap(pipeline(4<<20, p))
		large := peakHeap(pipeline(128<<20, p))
		t.Logf("%s: peak heap %d KiB for 4 MiB, %d KiB for 128 MiB", p, small>>10, large>>10)
		if large > small+16<<20 {
			t.Fatalf("%s: heap grows with message size: %d -> %d bytes", p, small, large)
		}
	}
}
