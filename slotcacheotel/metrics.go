package slotcacheotel

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/slotcache/slotcache"
	"github.com/slotcache/slotcache/internal/export"
)

// RegisterMetrics reports e's counters and gauges, and those of its named
// caches, through an OTel meter each time the meter's readers collect:
// counters (slotcache.hits, slotcache.fill_outcomes, ...) from
// Engine.Totals, so that Engine.Reset never makes one go backwards, gauges
// as they are. Series carry the slotcache.cache attribute for named caches.
// Unregister the returned registration before closing e. The load and
// fill wait histograms come from NewObserver.
func RegisterMetrics(e *slotcache.Engine, opts ...Option) (metric.Registration, error) {
	meter := configure(opts).mp.Meter(ScopeName)
	counters := make([]metric.Int64ObservableCounter, len(export.Counters))
	family := map[string]metric.Int64ObservableCounter{}
	var all []metric.Observable
	for i, m := range export.Counters {
		c, ok := family[m.Name]
		if !ok {
			var err error
			if c, err = meter.Int64ObservableCounter("slotcache."+m.Name, metric.WithDescription(m.Help)); err != nil {
				return nil, err
			}
			family[m.Name] = c
			all = append(all, c)
		}
		counters[i] = c
	}
	gauges := make([]metric.Float64ObservableGauge, len(export.Gauges))
	for i, m := range export.Gauges {
		g, err := meter.Float64ObservableGauge("slotcache."+m.Name, metric.WithDescription(m.Help))
		if err != nil {
			return nil, err
		}
		gauges[i] = g
		all = append(all, g)
	}
	return meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for _, c := range e.AllTotals() {
			st, redis := c.Totals, c.Redis
			var base []attribute.KeyValue
			if c.Name != "" {
				base = append(base, AttrCache.String(c.Name))
			}
			for i, m := range export.Counters {
				if m.Redis && !redis {
					continue
				}
				attrs := base
				if m.Label != "" {
					attrs = append(attrs[:len(attrs):len(attrs)], attribute.String(m.Label, m.Value))
				}
				o.ObserveInt64(counters[i], int64(m.Read(&st)), metric.WithAttributes(attrs...))
			}
			for i, m := range export.Gauges {
				if m.Redis && !redis {
					continue
				}
				o.ObserveFloat64(gauges[i], m.Read(&st), metric.WithAttributes(base...))
			}
		}
		return nil
	}, all...)
}
