//go:build race

package bundle

// rssAllowance scales a bound on a process's resident memory: the race
// detector keeps shadow memory for every byte the program touches (several
// times the heap), so under -race a bound is checked at four times its size.
const rssAllowance = 4
