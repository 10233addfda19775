package testworld

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// built holds the sealpost binaries built so far, one per set of build tags.
var (
	builtMu  sync.Mutex
	built    = map[string]*build{}
	buildDir string
)

type build struct {
	once sync.Once
	path string
	err  error
}

// Binary returns the sealpost command built with the given build tags,
// building it at most once per test process. Main removes it at the end.
func Binary(t testing.TB, tags ...string) string {
	t.Helper()
	key := strings.Join(tags, ",")
	builtMu.Lock()
	b, ok := built[key]
	if !ok {
		b = &build{}
		built[key] = b
	}
	builtMu.Unlock()
	b.once.Do(func() { b.path, b.err = goBuild(key) })
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// goBuild builds cmd/sealpost with tags into the process's build folder.
func goBuild(tags string) (string, error) {
	builtMu.Lock()
	if buildDir == "" {
		dir, err := os.MkdirTemp("", "sealpost-test-bin-")
		if err != nil {
			builtMu.Unlock()
			return "", fmt.Errorf("build folder for the sealpost binary: %w", err)
		}
		buildDir = dir
	}
	dir := buildDir
	builtMu.Unlock()
	bin := filepath.Join(dir, "sealpost")
	if tags != "" {
		bin += "-" + strings.ReplaceAll(tags, ",", "-")
	}
	out, err := exec.Command("go", "build", "-tags", tags, "-o", bin, "github.com/sealpost/sealpost/cmd/sealpost").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build of sealpost (tags %q): %w\n%s", tags, err, out)
	}
	return bin, nil
}

// Main runs the tests of a package and removes the binaries Binary built;
// a package's TestMain calls os.Exit(testworld.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	builtMu.Lock()
	defer builtMu.Unlock()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	return code
}
