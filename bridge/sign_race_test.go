//go:build race

package bridge_test

// raceOn: the race detector makes sync.Pool drop what is put back, at
// random, so allocation counts mean nothing under it.
const raceOn = true
