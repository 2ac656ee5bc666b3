package slotcache

import (
	"reflect"
	"sort"
	"sync"
	"time"

	"github.com/slotcache/slotcache/internal/metrics"
)

// Histogram is a latency histogram in Stats: Counts[i] counts durations in
// (LatencyBounds()[i-1], LatencyBounds()[i]], and the last count those
// above the last bound. Its buckets are fixed, so histograms of different
// engines and moments add up.
type Histogram struct {
	// Counts are the per-bucket counts (not cumulative), overflow last.
	Counts [HistogramBuckets]uint64
	// Sum is the total of the durations counted.
	Sum time.Duration
}

// HistogramBuckets is the number of buckets of a Histogram, the overflow
// one included.
const HistogramBuckets = metrics.NumBounds + 1

// LatencyBounds returns the upper bounds of a Histogram's buckets but the
// last, from 100 µs to 30 s on the 1-2.5-5 ladder.
func LatencyBounds() []time.Duration { return append([]time.Duration(nil), metrics.Bounds[:]...) }

// Count is the number of durations counted.
func (h Histogram) Count() uint64 { return metrics.Snapshot(h).Count() }

// Quantile estimates the q-quantile (0 < q ≤ 1) as the upper bound of its
// bucket; 0 when empty.
func (h Histogram) Quantile(q float64) time.Duration { return metrics.Snapshot(h).Quantile(q) }

// totals is what Reset zeroed, so that Totals never goes backwards.
type totals struct {
	mu      sync.Mutex // held by Reset while it zeroes, and by Totals
	retired Stats
}

// Totals returns the engine's counters since New: Stats plus whatever Reset
// zeroed. Exporters read it (slotcacheprom, slotcacheotel) because their
// counters must never go backwards; gauges (the fields tagged
// stats:"gauge", Subscribed and SinceHeard) are as in Stats. A Reset that
// runs while events happen may lose the few counted between its snapshot
// and its zeroing; it never makes Totals smaller.
func (e *Engine) Totals() Stats {
	e.totals.mu.Lock()
	defer e.totals.mu.Unlock()
	return addStats(e.totals.retired, e.Stats())
}

// retireStats adds the counts Reset is about to zero to the totals and
// zeroes the histograms; the returned function unlocks the totals once
// Reset is done, so Totals never sees the zeroed counters without what
// they held.
func (e *Engine) retireStats() (unlock func()) {
	e.totals.mu.Lock()
	e.totals.retired = addStats(e.totals.retired, e.Stats())
	e.observe.ResetHistograms()
	return e.totals.mu.Unlock
}

// addStats returns a+b for every counter and histogram, and b's gauges.
// Reflection and the stats:"gauge" tag keep it right when Stats gains a
// field; it runs per scrape and per Reset, never on a Get.
func addStats(a, b Stats) Stats {
	sum := b
	av, sv := reflect.ValueOf(a), reflect.ValueOf(&sum).Elem()
	for i := range sv.NumField() {
		f := sv.Field(i)
		if f.Kind() == reflect.Uint64 && !isGauge(sv.Type().Field(i)) {
			f.SetUint(f.Uint() + av.Field(i).Uint())
		}
	}
	sum.LoadLatency = Histogram(metrics.Snapshot(a.LoadLatency).Add(metrics.Snapshot(b.LoadLatency)))
	sum.FillWait = Histogram(metrics.Snapshot(a.FillWait).Add(metrics.Snapshot(b.FillWait)))
	return sum
}

// isGauge reports whether a field of Stats is a level (tagged
// stats:"gauge") rather than a count.
func isGauge(f reflect.StructField) bool { return f.Tag.Get("stats") == "gauge" }

// CacheTotals is one cache's totals, as exporters report them.
type CacheTotals struct {
	// Name is the name given to NewCache, "" for the engine itself.
	Name string
	// Redis reports that the cache listens to other instances through
	// Redis, so that exporters report the subscription's state only where
	// there is one.
	Redis bool
	// Totals are the cache's counters since it started (see Totals).
	Totals Stats
}

// AllTotals returns the Totals of the engine and of each named cache open
// on it (NewCache), the engine first and the others by name: what one
// exporter registered for the engine reports, caches opened later
// included.
func (e *Engine) AllTotals() []CacheTotals {
	e.mu.Lock()
	cs := make([]*Engine, 0, len(e.children))
	for _, c := range e.children {
		cs = append(cs, c)
	}
	e.mu.Unlock()
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	out := make([]CacheTotals, 0, 1+len(cs))
	for _, c := range append([]*Engine{e}, cs...) {
		out = append(out, CacheTotals{Name: c.name, Redis: c.sub != nil, Totals: c.Totals()})
	}
	return out
}
