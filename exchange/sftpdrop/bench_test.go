package sftpdrop

import (
	"bytes"
	"context"
	"io"
	"testing"
)

// benchSize is the file size moved per benchmark iteration.
const benchSize = 64 << 20

func BenchmarkUpload(b *testing.B) {
	srv := startSftpd(b)
	srv.mkdir(b, "push")
	d := dial(b, srv.cfg)
	data := randomBytes(b, benchSize)
	b.SetBytes(benchSize)
	b.ResetTimer()
	for b.Loop() {
		upload(b, d, srv.remote("push"), "bench.pgp", data)
	}
}

func BenchmarkDownload(b *testing.B) {
	srv := startSftpd(b)
	srv.mkdir(b, "pull")
	writeLocal(b, srv.local("pull", "bench.pgp"), randomBytes(b, benchSize))
	d := dial(b, srv.cfg)
	b.SetBytes(benchSize)
	b.ResetTimer()
	for b.Loop() {
		n, err := d.Download(context.Background(), srv.remote("pull"), "bench.pgp", io.Discard)
		if err != nil || n != benchSize {
			b.Fatalf("Download = %d, %v", n, err)
		}
	}
}

// BenchmarkUploadOpenSSH measures the same upload against OpenSSH's sshd.
func BenchmarkUploadOpenSSH(b *testing.B) {
	srv := startOpenSSH(b)
	srv.mkdir(b, "push")
	d := dial(b, srv.cfg)
	data := randomBytes(b, benchSize)
	b.SetBytes(benchSize)
	for b.Loop() {
		upload(b, d, srv.remote("push"), "bench.pgp", data)
	}
}

// BenchmarkDownloadOpenSSH measures the same download against OpenSSH's sshd.
func BenchmarkDownloadOpenSSH(b *testing.B) {
	srv := startOpenSSH(b)
	srv.mkdir(b, "pull")
	writeLocal(b, srv.local("pull", "bench.pgp"), randomBytes(b, benchSize))
	d := dial(b, srv.cfg)
	b.SetBytes(benchSize)
	var sink bytes.Buffer
	for b.Loop() {
		sink.Reset()
		if _, err := d.Download(context.Background(), srv.remote("pull"), "bench.pgp", &sink); err != nil {
			b.Fatal(err)
		}
	}
}
