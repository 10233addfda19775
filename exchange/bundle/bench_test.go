package bundle

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

const benchSize = 64 << 20

// benchSource writes a 64 MiB random file and returns it as a Source.
func benchSource(b *testing.B) []Source {
	b.Helper()
	p := filepath.Join(b.TempDir(), "big.bin")
	if err := os.WriteFile(p, []byte(randomString(b, benchSize)), 0o644); err != nil {
		b.Fatal(err)
	}
	return []Source{{Path: p, Name: "big.bin"}}
}

func BenchmarkWrite(b *testing.B) {
	srcs := benchSource(b)
	b.SetBytes(benchSize)
	for b.Loop() {
		if err := Write(io.Discard, testManifest(KindRequest), srcs); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRead(b *testing.B) {
	var buf bytes.Buffer
	if err := Write(&buf, testManifest(KindRequest), benchSource(b)); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	parent := b.TempDir()
	b.SetBytes(benchSize)
	for i := 0; i < b.N; i++ {
		dir := filepath.Join(parent, "dir")
		if err := os.Mkdir(dir, 0o700); err != nil {
			b.Fatal(err)
		}
		if _, err := Read(bytes.NewReader(data), dir, Limits{MaxBytes: 1 << 30, MaxFiles: 10}, Expect{}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
