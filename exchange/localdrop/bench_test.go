package localdrop

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// benchSize is the file size moved per benchmark iteration.
const benchSize = 64 << 20

func BenchmarkUpload(b *testing.B) {
	root := b.TempDir()
	if err := os.Mkdir(filepath.Join(root, "push"), 0o755); err != nil {
		b.Fatal(err)
	}
	d, err := Open(Config{Root: root})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	chunk := make([]byte, 256<<10)
	ctx := context.Background()
	b.SetBytes(benchSize)
	for b.Loop() {
		u, err := d.Create(ctx, "push", "bench.pgp")
		if err != nil {
			b.Fatal(err)
		}
		for range benchSize / len(chunk) {
			if _, err := u.Write(chunk); err != nil {
				b.Fatal(err)
			}
		}
		if err := u.Commit(ctx, benchSize); err != nil {
			b.Fatal(err)
		}
		if err := d.Remove(ctx, "push/bench.pgp"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDownload(b *testing.B) {
	root := b.TempDir()
	if err := os.Mkdir(filepath.Join(root, "pull"), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "pull", "bench.pgp"), make([]byte, benchSize), 0o644); err != nil {
		b.Fatal(err)
	}
	d, err := Open(Config{Root: root})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	ents, _, err := d.List(context.Background(), "pull")
	if err != nil || len(ents) != 1 {
		b.Fatal(ents, err)
	}
	b.SetBytes(benchSize)
	for b.Loop() {
		if n, err := d.DownloadListed(context.Background(), "pull", ents[0], io.Discard); err != nil || n != benchSize {
			b.Fatalf("DownloadListed = %d, %v", n, err)
		}
	}
}
