package report

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// browserEnv opts in to TestReportInChromium: Chromium is too heavy to
// require everywhere. Set SEALPOST_SCREENSHOT=FILE to keep the screenshot.
const browserEnv = "SEALPOST_BROWSER_TEST"

// chromium finds Debian's chromium (or another name for it), skipping the
// test unless it was asked for.
func chromium(t *testing.T) string {
	t.Helper()
	if os.Getenv(browserEnv) == "" {
		t.Skipf("set %s=1 to render the report in headless Chromium", browserEnv)
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatalf("%s is set but no chromium is installed (apt-get install chromium)", browserEnv)
	return ""
}

// headless runs the browser on the page with extra flags and returns stdout.
func headless(t *testing.T, bin, page string, flags ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir()}, flags...)
	cmd := exec.CommandContext(ctx, bin, append(args, "file://"+page)...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", bin, err, stderr.String())
	}
	return out.Bytes()
}

func TestReportInChromium(t *testing.T) {
	bin := chromium(t)
	r, err := Build(trafficLog(t), Options{Self: "us-cbp", Now: now.Add(40 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	if err := os.WriteFile(page, []byte(render(t, r)), 0o600); err != nil {
		t.Fatal(err)
	}
	dom := string(headless(t, bin, page, "--dump-dom"))
	for _, want := range []string{"Chain OK", "<svg", `class="out"`, `class="overdue"`, "OVERDUE", `evil\nname\x1b[31m\u202e&lt;b&gt;.pgp`} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered DOM has no %q", want)
		}
	}
	if strings.Contains(dom, "<script") {
		t.Error("a script element came alive in the rendered DOM")
	}
	shot := os.Getenv("SEALPOST_SCREENSHOT")
	if shot == "" {
		shot = filepath.Join(dir, "report.png")
	}
	headless(t, bin, page, "--screenshot="+shot, "--window-size=1100,2200", "--hide-scrollbars")
	checkScreenshot(t, shot)
}

// checkScreenshot checks that the page painted: a PNG of the window size
// with the chart's blue and orange bars in it.
func checkScreenshot(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", path, err)
	}
	blue, orange := 0, 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			r, g, bl = r>>8, g>>8, bl>>8
			switch {
			case near(r, 0x2f) && near(g, 0x6f) && near(bl, 0xd6):
				blue++
			case near(r, 0xe0) && near(g, 0x7b) && near(bl, 0x2a):
				orange++
			}
		}
	}
	if b.Dx() != 1100 || blue < 20 || orange < 20 {
		t.Errorf("screenshot %s: %dx%d, %d blue and %d orange samples (the bars did not paint)", path, b.Dx(), b.Dy(), blue, orange)
	}
	t.Logf("screenshot %s: %dx%d, %d blue and %d orange samples", path, b.Dx(), b.Dy(), blue, orange)
}

func near(v, want uint32) bool { return v+12 >= want && v <= want+12 }
