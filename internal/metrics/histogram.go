package metrics

import (
	"sync/atomic"
	"time"
)

// Bounds are the upper bounds of the histogram's buckets, the 1-2.5-5
// ladder Prometheus users know, from 100 µs (a loader answering from
// memory) to 30 s (DefaultLoadTimeout). Fixed bounds keep Observe free of
// allocation and locks and let every snapshot merge with every other.
var Bounds = [NumBounds]time.Duration{
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second,
	10 * time.Second, 30 * time.Second,
}

// NumBounds is the number of finite bounds; a histogram has one bucket
// more, for durations above the last bound.
const NumBounds = 17

// Histogram counts durations into the buckets of Bounds. The zero value is
// ready to use and it is safe for concurrent use.
//
// It is recorded on loads, not on hits: loads are serialised per slot and
// take microseconds at least, so plain atomics on shared buckets cost
// nothing that shows (see BenchmarkObserve), where the hit path needs the
// striped Counter.
type Histogram struct {
	counts [NumBounds + 1]atomic.Uint64
	sum    atomic.Int64 // nanoseconds
}

// Observe records one duration. Negative durations count as zero.
func (h *Histogram) Observe(d time.Duration) {
	d = max(d, 0)
	i := 0
	for i < NumBounds && d > Bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(int64(d))
}

// Snapshot returns the counts so far. Buckets are read one by one, so a
// snapshot taken while loads finish may lag by those loads; Count is the
// sum of the buckets, so it always agrees with them.
func (h *Histogram) Snapshot() Snapshot {
	var s Snapshot
	for i := range h.counts {
		s.Counts[i] = h.counts[i].Load()
	}
	s.Sum = time.Duration(h.sum.Load())
	return s
}

// Reset zeroes the histogram.
func (h *Histogram) Reset() {
	for i := range h.counts {
		h.counts[i].Store(0)
	}
	h.sum.Store(0)
}

// Snapshot is a histogram's counts at one moment: Counts[i] is the number of
// durations in (Bounds[i-1], Bounds[i]], and the last one those above the
// last bound.
type Snapshot struct {
	// Counts are the per-bucket counts, not cumulative.
	Counts [NumBounds + 1]uint64
	// Sum is the total of the durations counted.
	Sum time.Duration
}

// Count is the number of durations recorded.
func (s Snapshot) Count() uint64 {
	var n uint64
	for _, c := range s.Counts {
		n += c
	}
	return n
}

// Add returns the sum of two snapshots, e.g. of counts before and after a
// Reset, so that exported totals never go backwards.
func (s Snapshot) Add(o Snapshot) Snapshot {
	for i := range s.Counts {
		s.Counts[i] += o.Counts[i]
	}
	s.Sum += o.Sum
	return s
}

// Quantile estimates the q-quantile (0 < q ≤ 1) as the upper bound of the
// bucket it falls in: an overestimate by at most one rung of the ladder,
// which is what a dashboard needs. It returns 0 for an empty snapshot and
// the last bound for durations beyond it.
func (s Snapshot) Quantile(q float64) time.Duration {
	n := s.Count()
	if n == 0 {
		return 0
	}
	rank := uint64(q * float64(n))
	rank = min(max(rank, 1), n)
	var seen uint64
	for i, c := range s.Counts {
		seen += c
		if seen >= rank {
			return Bounds[min(i, NumBounds-1)]
		}
	}
	return Bounds[NumBounds-1]
}
