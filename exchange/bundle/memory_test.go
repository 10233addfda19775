package bundle

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// hostileTar writes, for TestReadPeakRSS, an archive made to cost the
// reader memory before the signature beneath it could be checked: as many
// files as the limit allows, each with a path of the longest length, and
// then the largest manifest, listing as many of them as it can hold.
func hostileTar(w io.Writer, files, depth int) error {
	tw := tar.NewWriter(w)
	folder := "payload"
	for i := 0; i < depth; i++ {
		folder += "/" + strings.Repeat(string(rune('a'+i)), 250)
	}
	m := testManifest(KindRequest)
	budget := MaxManifestSize - 1024
	for i := 0; i < files; i++ {
		name := fmt.Sprintf("%s/%0250d", folder, i)
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o600, ModTime: testTime}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if budget -= len(name) + 120; budget > 0 {
			m.Files = append(m.Files, File{Path: name, SHA256: sha256Hex("")})
		}
	}
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if len(data) > MaxManifestSize {
		return fmt.Errorf("the manifest is %d bytes, more than %d", len(data), MaxManifestSize)
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: manifestName, Size: int64(len(data)), Mode: 0o600, ModTime: testTime}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if _, err := tw.Write(data); err != nil {
		return err
	}
	return tw.Close()
}

// TestReadPeakRSS extracts, in a child process, archives of 10,000 files
// with long paths followed by the largest manifest, and reads the child's
// peak resident memory from the kernel: what a stranger's archive costs
// before its signature is checked stays under 64 MiB (four times that under
// the race detector, whose shadow memory multiplies it). With 4 KiB paths
// the paths outgrow what a manifest may list; with 400-byte ones the
// largest manifest is read and parsed.
func TestReadPeakRSS(t *testing.T) {
	const files = 10000
	if path := os.Getenv("SEALPOST_READ_RSS_CHILD"); path != "" {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		_, err = Read(f, t.TempDir(), Limits{MaxBytes: 1 << 30, MaxFiles: files}, Expect{})
		t.Logf("the reader said: %.100v", err)
		return
	}
	for _, depth := range []int{15, 1, 0} {
		path := filepath.Join(t.TempDir(), "hostile.tar")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := hostileTar(f, files, depth); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestReadPeakRSS$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "SEALPOST_READ_RSS_CHILD="+path)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		peak := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10 // KiB on Linux
		t.Logf("peak RSS reading %d files with %d-byte paths and the largest manifest: %d MiB\n%s", files, 258+251*depth, peak>>20, out)
		if limit := int64(64<<20) * rssAllowance; peak > limit {
			t.Errorf("peak RSS %d MiB, want under %d MiB", peak>>20, limit>>20)
		}
	}
}
