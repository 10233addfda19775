//go:build race

package crypto

// raceAllowance scales a bound on memory: the race detector keeps shadow
// memory for every byte the program touches and allocates for its own
// bookkeeping, so under -race a memory bound is checked at four times its
// size.
const raceAllowance = 4
