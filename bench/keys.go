package main

import (
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
)

// traceLen is the length of each worker's pre-computed key trace; a power of
// two so that the hot loop indexes it with a mask.
const traceLen = 1 << 16

// keySet is a set of pre-built key strings, so that no benchmark allocates
// or formats a key in its timed loop.
type keySet []string

// newKeys returns n keys under a random prefix: every case gets keys of its
// own, so that cases sharing a Redis server never see each other's data.
func newKeys(n int) keySet {
	prefix := "b" + rand.Text()[:6] + ":"
	ks := make(keySet, n)
	for i := range ks {
		ks[i] = fmt.Sprintf("%s%07d", prefix, i)
	}
	return ks
}

// zipfTrace returns traceLen key indexes in [0, n) drawn from a Zipf
// distribution of exponent s (> 1), seeded so that runs are repeatable.
func zipfTrace(n int, s float64, seed uint64) []int32 {
	return zipfTraceLen(n, s, seed, traceLen)
}

// zipfTraceLen is zipfTrace with a given length.
func zipfTraceLen(n int, s float64, seed uint64, length int) []int32 {
	r := mrand.New(mrand.NewPCG(seed, 0x5eed))
	z := mrand.NewZipf(r, s, 1, uint64(n-1))
	t := make([]int32, length)
	for i := range t {
		t[i] = int32(z.Uint64())
	}
	return t
}

// traces returns one Zipf trace per worker, each with its own seed.
func traces(workers, n int, s float64) [][]int32 {
	ts := make([][]int32, workers)
	for w := range ts {
		ts[w] = zipfTrace(n, s, uint64(w+1))
	}
	return ts
}

// distinct counts the distinct values of t.
func distinct(t []int32) int {
	seen := make(map[int32]struct{}, len(t)/4)
	for _, k := range t {
		seen[k] = struct{}{}
	}
	return len(seen)
}
