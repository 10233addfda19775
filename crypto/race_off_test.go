//go:build !race

package crypto

// raceAllowance scales a bound on memory: 1 without the race detector (see
// race_on_test.go).
const raceAllowance = 1
