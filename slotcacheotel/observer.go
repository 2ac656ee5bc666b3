package slotcacheotel

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/slotcache/slotcache"
)

// Attribute keys of slotcache's spans and metrics.
const (
	// AttrCache is the named cache's name; absent for the engine New
	// returned.
	AttrCache = attribute.Key("slotcache.cache")
	// AttrSlotID is the slot ID, recorded only with WithSlotIDs.
	AttrSlotID = attribute.Key("slotcache.slot_id")
	// AttrFillOutcome is how a fill lease or wait ended (a FillOutcome
	// name such as "follower_woken").
	AttrFillOutcome = attribute.Key("slotcache.fill.outcome")
)

// observer is the slotcache.Observer of NewObserver.
type observer struct {
	tracer    trace.Tracer
	loads     metric.Float64Histogram
	fillWaits metric.Float64Histogram
	slotIDs   bool
}

// NewObserver returns a slotcache.Observer that records a span per load,
// fill lease, fill wait and published invalidation, and the durations of
// loads and fill waits as histograms. Install it with slotcache.WithObserver;
// named caches inherit it.
func NewObserver(opts ...Option) (slotcache.Observer, error) {
	c := configure(opts)
	o := &observer{tracer: c.tp.Tracer(ScopeName), slotIDs: c.slotIDs}
	meter := c.mp.Meter(ScopeName)
	var bounds []float64
	for _, b := range slotcache.LatencyBounds() {
		bounds = append(bounds, b.Seconds())
	}
	var err error
	if o.loads, err = meter.Float64Histogram("slotcache.load.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of shared loads (the fill coordination included), as their callers waited."),
		metric.WithExplicitBucketBoundaries(bounds...)); err != nil {
		return nil, err
	}
	if o.fillWaits, err = meter.Float64Histogram("slotcache.fill.wait.duration", metric.WithUnit("s"),
		metric.WithDescription("Followers' waits for another instance's fill, up to the value they ended with."),
		metric.WithExplicitBucketBoundaries(bounds...)); err != nil {
		return nil, err
	}
	return o, nil
}

// Start implements slotcache.Observer.
func (o *observer) Start(ctx context.Context, op slotcache.Operation) (context.Context, func(string, error)) {
	attrs := make([]attribute.KeyValue, 0, 2)
	if op.Cache != "" {
		attrs = append(attrs, AttrCache.String(op.Cache))
	}
	kind := trace.SpanKindInternal
	if op.Name == slotcache.OperationPublish {
		kind = trace.SpanKindProducer
	}
	var metricAttrs metric.MeasurementOption
	if hist := o.histogram(op.Name); hist != nil {
		metricAttrs = metric.WithAttributes(attrs...) // before the slot ID: it would explode cardinality
	}
	if o.slotIDs {
		attrs = append(attrs, AttrSlotID.String(op.SlotID))
	}
	ctx, span := o.tracer.Start(ctx, op.Name, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
	start := time.Now()
	return ctx, func(outcome string, err error) {
		if hist := o.histogram(op.Name); hist != nil {
			hist.Record(ctx, time.Since(start).Seconds(), metricAttrs)
		}
		if outcome != "" {
			span.SetAttributes(AttrFillOutcome.String(outcome))
		}
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}

// histogram returns the histogram that times op, or nil.
func (o *observer) histogram(op string) metric.Float64Histogram {
	switch op {
	case slotcache.OperationLoad:
		return o.loads
	case slotcache.OperationFillWait:
		return o.fillWaits
	}
	return nil
}
