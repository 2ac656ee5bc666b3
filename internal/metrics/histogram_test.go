package metrics

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBoundsAscend(t *testing.T) {
	for i := 1; i < NumBounds; i++ {
		require.Less(t, Bounds[i-1], Bounds[i], "bound %d", i)
	}
}

func TestObserveBucketsByUpperBound(t *testing.T) {
	var h Histogram
	h.Observe(-time.Second)           // clamps to 0: first bucket
	h.Observe(100 * time.Microsecond) // on the bound: that bucket (le)
	h.Observe(101 * time.Microsecond) // just above: the next
	h.Observe(3 * time.Millisecond)   // (2.5 ms, 5 ms]
	h.Observe(time.Minute)            // overflow
	s := h.Snapshot()
	assert.Equal(t, uint64(2), s.Counts[0])
	assert.Equal(t, uint64(1), s.Counts[1])
	assert.Equal(t, uint64(1), s.Counts[5])
	assert.Equal(t, uint64(1), s.Counts[NumBounds])
	assert.Equal(t, uint64(5), s.Count())
	assert.Equal(t, 100*time.Microsecond+101*time.Microsecond+3*time.Millisecond+time.Minute, s.Sum)
}

func TestObserveConcurrently(t *testing.T) {
	var h Histogram
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				h.Observe(time.Duration(g) * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	s := h.Snapshot()
	assert.Equal(t, uint64(8000), s.Count())
	assert.Equal(t, 28*1000*time.Millisecond, s.Sum)
}

func TestResetAndAdd(t *testing.T) {
	var h Histogram
	h.Observe(time.Millisecond)
	before := h.Snapshot()
	h.Reset()
	assert.Zero(t, h.Snapshot().Count())
	h.Observe(time.Second)
	total := before.Add(h.Snapshot())
	assert.Equal(t, uint64(2), total.Count())
	assert.Equal(t, time.Second+time.Millisecond, total.Sum)
}

func TestQuantile(t *testing.T) {
	var h Histogram
	assert.Zero(t, h.Snapshot().Quantile(0.5))
	for range 90 {
		h.Observe(time.Millisecond)
	}
	for range 10 {
		h.Observe(400 * time.Millisecond)
	}
	s := h.Snapshot()
	assert.Equal(t, time.Millisecond, s.Quantile(0.5))
	assert.Equal(t, time.Millisecond, s.Quantile(0.9))
	assert.Equal(t, 500*time.Millisecond, s.Quantile(0.99))
	h.Observe(time.Hour)
	assert.Equal(t, 30*time.Second, h.Snapshot().Quantile(1))
}

// BenchmarkObserve is the histogram's cost per load: what a load pays on
// top of the loader, the clock read included.
func BenchmarkObserve(b *testing.B) {
	var h Histogram
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			start := time.Now()
			h.Observe(time.Since(start))
		}
	})
}
