package main

import (
	"runtime"
	"slices"
	"sync"
	"time"
)

// sample is one timed run of n operations.
type sample struct {
	ops     int
	elapsed time.Duration
	mallocs uint64 // heap allocations during the run, whole process
	bytes   uint64 // heap bytes allocated during the run, whole process
	counted int64  // how much the run's counter grew (e.g. loader calls)
}

// nsPerOp is the wall time per operation: with several workers, the
// inverse of the throughput, as testing.B's RunParallel reports it.
func (s sample) nsPerOp() float64 { return float64(s.elapsed.Nanoseconds()) / float64(max(s.ops, 1)) }

// allocsPerOp and bytesPerOp count every allocation in the process during
// the run, including those of the library's background goroutines.
func (s sample) allocsPerOp() float64 { return float64(s.mallocs) / float64(max(s.ops, 1)) }
func (s sample) bytesPerOp() float64  { return float64(s.bytes) / float64(max(s.ops, 1)) }

// countedPerOp is the counter's growth per operation.
func (s sample) countedPerOp() float64 { return float64(s.counted) / float64(max(s.ops, 1)) }

// maxOps bounds the calibration, whatever the timer says.
const maxOps = 1 << 30

// counter reads a monotonic count, such as loader calls; nil counts
// nothing.
type counter func() int64

func (c counter) read() int64 {
	if c == nil {
		return 0
	}
	return c()
}

// runOnce runs n calls of op split across workers goroutines (worker w
// makes calls i = 0, 1, ... of its share) and measures them, with how much
// cnt grew meanwhile.
func runOnce(workers, n int, cnt counter, op func(w, i int)) sample {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var start, done sync.WaitGroup
	start.Add(1)
	for w := range workers {
		share := n / workers
		if w < n%workers {
			share++
		}
		done.Go(func() {
			start.Wait()
			for i := range share {
				op(w, i)
			}
		})
	}
	c0 := cnt.read()
	t0 := time.Now()
	start.Done()
	done.Wait()
	elapsed := time.Since(t0)
	c1 := cnt.read()
	runtime.ReadMemStats(&after)
	return sample{ops: n, elapsed: elapsed, mallocs: after.Mallocs - before.Mallocs,
		bytes: after.TotalAlloc - before.TotalAlloc, counted: c1 - c0}
}

// throughput calibrates n so that one run lasts about benchtime, like
// testing.B does, then makes count runs of n operations and returns the
// median one (by ns/op).
func throughput(benchtime time.Duration, count, workers int, cnt counter, op func(w, i int)) sample {
	n := max(workers, 16)
	for {
		s := runOnce(workers, n, cnt, op)
		if s.elapsed >= benchtime || n >= maxOps {
			break
		}
		next := n * 100
		if s.elapsed > 0 {
			next = int(1.2 * float64(n) * float64(benchtime) / float64(s.elapsed))
		}
		n = min(max(next, n+1), n*100, maxOps)
	}
	return median(count, func() sample { return runOnce(workers, n, cnt, op) })
}

// median makes count runs (at least one) and returns the median by ns/op.
func median(count int, run func() sample) sample {
	ss := make([]sample, max(count, 1))
	for i := range ss {
		ss[i] = run()
	}
	slices.SortFunc(ss, func(a, b sample) int {
		switch {
		case a.nsPerOp() < b.nsPerOp():
			return -1
		case a.nsPerOp() > b.nsPerOp():
			return 1
		}
		return 0
	})
	return ss[len(ss)/2]
}

// latencies summarises a set of durations.
type latencies struct {
	N                   int
	P50, P99, P999, Max time.Duration
	Mean                time.Duration
}

// summarize returns nearest-rank percentiles of ds, which it sorts.
func summarize(ds []time.Duration) latencies {
	if len(ds) == 0 {
		return latencies{}
	}
	slices.Sort(ds)
	at := func(p float64) time.Duration {
		i := int(p*float64(len(ds))+0.999999) - 1 // ceil(p*n) - 1
		return ds[min(max(i, 0), len(ds)-1)]
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return latencies{
		N: len(ds), P50: at(0.50), P99: at(0.99), P999: at(0.999), Max: ds[len(ds)-1],
		Mean: sum / time.Duration(len(ds)),
	}
}
