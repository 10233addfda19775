package testworld

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// peakKey starts the line a child process prints its peak RSS on.
const peakKey = "testworld-peak-rss-kib="

// PrintPeakRSS prints, for a parent test reading it with ChildPeakRSS, this
// process's peak resident memory since exec: VmHWM of /proc/self/status.
// (A child's rusage is no measure: Go vforks, so the child's ru_maxrss also
// counts the parent's high-water mark at the time of exec.)
func PrintPeakRSS(t testing.TB) {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	v, ok := lineValue(status, "VmHWM:")
	if !ok {
		t.Fatal("no VmHWM in /proc/self/status")
	}
	fmt.Printf("\n%s%s\n", peakKey, strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
}

// ChildPeakRSS is the peak RSS in bytes a child printed with PrintPeakRSS.
func ChildPeakRSS(t testing.TB, out []byte) int64 {
	t.Helper()
	v, ok := lineValue(out, peakKey)
	kib, err := strconv.ParseInt(v, 10, 64)
	if !ok || err != nil {
		t.Fatalf("the child printed no peak RSS (%v):\n%s", err, out)
	}
	return kib << 10
}

// lineValue is the rest of the first line of text starting with key.
func lineValue(text []byte, key string) (string, bool) {
	sc := bufio.NewScanner(bytes.NewReader(text))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key); ok {
			return v, true
		}
	}
	return "", false
}
