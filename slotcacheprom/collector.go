// Package slotcacheprom exports slotcache engines to Prometheus. It is a
// package of its own so that only programs that use Prometheus import its
// client.
//
//	prometheus.MustRegister(slotcacheprom.NewCollector(engine))
//
// The collector reports the engine and each of its named caches, labelled
// by cache name ("" for the engine New returned): every counter of
// slotcache.Stats as a counter (from Engine.Totals, so Engine.Reset never
// makes one go backwards), the gauges as gauges, load durations and fill
// waits as histograms in seconds, and, for engines with Redis, the fill
// outcomes and the subscription's state.
package slotcacheprom

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/slotcache/slotcache"
	"github.com/slotcache/slotcache/internal/export"
)

// Namespace starts every metric name.
const Namespace = "slotcache"

// Collector is a prometheus.Collector for an engine and its named caches.
// Metrics are read at scrape time; nothing is recorded in between.
type Collector struct {
	engine     *slotcache.Engine
	counters   []*prometheus.Desc // parallel to export.Counters
	gauges     []*prometheus.Desc // parallel to export.Gauges
	histograms []*prometheus.Desc // parallel to export.Histograms
	buckets    []float64          // upper bounds, seconds
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns a collector of e and its named caches, opened now
// or later. Register it once per engine New returned; named caches are
// included, not registered apart.
func NewCollector(e *slotcache.Engine) *Collector {
	c := &Collector{engine: e}
	family := map[string]*prometheus.Desc{}
	for _, m := range export.Counters {
		d, ok := family[m.Name]
		if !ok {
			labels := []string{"cache"}
			if m.Label != "" {
				labels = append(labels, m.Label)
			}
			d = prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", m.Name+"_total"), m.Help, labels, nil)
			family[m.Name] = d
		}
		c.counters = append(c.counters, d)
	}
	for _, m := range export.Gauges {
		c.gauges = append(c.gauges, prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", m.Name), m.Help, []string{"cache"}, nil))
	}
	for _, m := range export.Histograms {
		c.histograms = append(c.histograms, prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", m.Name), m.Help, []string{"cache"}, nil))
	}
	for _, b := range slotcache.LatencyBounds() {
		c.buckets = append(c.buckets, b.Seconds())
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	seen := map[*prometheus.Desc]bool{}
	for _, ds := range [][]*prometheus.Desc{c.counters, c.gauges, c.histograms} {
		for _, d := range ds {
			if !seen[d] {
				seen[d] = true
				ch <- d
			}
		}
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, t := range c.engine.AllTotals() {
		c.collect(ch, t)
	}
}

// collect reports one cache.
func (c *Collector) collect(ch chan<- prometheus.Metric, t slotcache.CacheTotals) {
	st, redis, name := t.Totals, t.Redis, t.Name
	for i, m := range export.Counters {
		if m.Redis && !redis {
			continue
		}
		labels := []string{name}
		if m.Label != "" {
			labels = append(labels, m.Value)
		}
		ch <- prometheus.MustNewConstMetric(c.counters[i], prometheus.CounterValue, float64(m.Read(&st)), labels...)
	}
	for i, m := range export.Gauges {
		if m.Redis && !redis {
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.gauges[i], prometheus.GaugeValue, m.Read(&st), name)
	}
	for i, m := range export.Histograms {
		if m.Redis && !redis {
			continue
		}
		h := m.Read(&st)
		cumulative := make(map[float64]uint64, len(c.buckets))
		var n uint64
		for j, le := range c.buckets {
			n += h.Counts[j]
			cumulative[le] = n
		}
		ch <- prometheus.MustNewConstHistogram(c.histograms[i], h.Count(), h.Sum.Seconds(), cumulative, name)
	}
}
