//go:build !race

package bundle

// rssAllowance scales a bound on a process's resident memory: 1 without the
// race detector (see race_on_test.go).
const rssAllowance = 1
