package main

import (
	"math/bits"
	"time"
)

// histSubBits sets the histogram's precision: 2^histSubBits buckets per
// power of two, so a recorded latency is off by at most 1/32 (about 3%).
const histSubBits = 5

// histBuckets covers latencies up to 2^40 ns, about 18 minutes.
const histBuckets = (40 - histSubBits + 2) << histSubBits

// histogram counts latencies in log-linear buckets, so that a load test can
// record millions of them in constant memory. It is not safe for
// concurrent use: give each worker its own and merge them.
type histogram struct {
	counts [histBuckets]uint64
	n      uint64
	max    time.Duration
}

// bucketOf returns the bucket of v nanoseconds.
func bucketOf(v uint64) int {
	if v < 1<<histSubBits {
		return int(v)
	}
	k := bits.Len64(v) - 1 // v is in [2^k, 2^(k+1))
	m := v >> (k - histSubBits)
	return min((k-histSubBits+1)<<histSubBits+int(m)-1<<histSubBits, histBuckets-1)
}

// bucketMid returns a representative value of bucket b: the middle of its
// range.
func bucketMid(b int) time.Duration {
	if b < 1<<histSubBits {
		return time.Duration(b)
	}
	g := b >> histSubBits
	m := uint64(b&(1<<histSubBits-1) + 1<<histSubBits)
	lo := m << (g - 1)
	width := uint64(1) << (g - 1)
	return time.Duration(lo + width/2)
}

// record adds one latency.
func (h *histogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))]++
	h.n++
	h.max = max(h.max, d)
}

// merge adds o's counts to h.
func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// latencySummary is a set of percentiles, as the bench command reports them.
type latencySummary struct {
	N    uint64        `json:"n"`
	P50  time.Duration `json:"p50_ns"`
	P90  time.Duration `json:"p90_ns"`
	P99  time.Duration `json:"p99_ns"`
	P999 time.Duration `json:"p999_ns"`
	Max  time.Duration `json:"max_ns"`
}

// summary returns the percentiles of the recorded latencies (each within
// the bucket precision, capped by the exact maximum).
func (h *histogram) summary() latencySummary {
	s := latencySummary{N: h.n, Max: h.max}
	if h.n == 0 {
		return s
	}
	at := func(p float64) time.Duration {
		rank := uint64(p*float64(h.n) + 0.999999) // ceil(p*n), nearest rank
		rank = min(max(rank, 1), h.n)
		var seen uint64
		for b, c := range h.counts {
			if seen += c; seen >= rank {
				return min(bucketMid(b), h.max)
			}
		}
		return h.max
	}
	s.P50, s.P90, s.P99, s.P999 = at(0.50), at(0.90), at(0.99), at(0.999)
	return s
}
