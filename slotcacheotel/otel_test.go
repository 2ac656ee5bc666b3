package slotcacheotel_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/slotcache/slotcache"
	"github.com/slotcache/slotcache/slotcacheotel"
)

// harness is an engine instrumented with in-memory exporters.
type harness struct {
	engine *slotcache.Engine
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	mp     *sdkmetric.MeterProvider
}

func newHarness(t *testing.T, opts ...slotcacheotel.Option) *harness {
	t.Helper()
	h := &harness{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	h.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(h.spans))
	h.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(h.reader))
	opts = append([]slotcacheotel.Option{slotcacheotel.WithTracerProvider(h.tp), slotcacheotel.WithMeterProvider(h.mp)}, opts...)
	obs, err := slotcacheotel.NewObserver(opts...)
	require.NoError(t, err)
	h.engine, err = slotcache.New(slotcache.WithObserver(obs))
	require.NoError(t, err)
	reg, err := slotcacheotel.RegisterMetrics(h.engine, opts...)
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, reg.Unregister())
		require.NoError(t, h.engine.Close())
		require.NoError(t, h.tp.Shutdown(context.Background()))
		require.NoError(t, h.mp.Shutdown(context.Background()))
	})
	return h
}

func (h *harness) ended(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range h.spans.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

func attr(s sdktrace.ReadOnlySpan, k attribute.Key) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if kv.Key == k {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// TestLoadSpanIsChildOfCallerSpan: the load's span hangs under the span of
// the caller whose miss started it, the loader's own spans under the load's,
// and a hit records no span.
func TestLoadSpanIsChildOfCallerSpan(t *testing.T) {
	h := newHarness(t)
	tracer := h.tp.Tracer("test")
	ctx, request := tracer.Start(context.Background(), "request")
	_, err := h.engine.Get(ctx, "user:42", func(ctx context.Context, _ string) (any, error) {
		_, db := tracer.Start(ctx, "db.query")
		db.End()
		return "v", nil
	})
	require.NoError(t, err)
	_, err = h.engine.Get(ctx, "user:42", nil) // a hit: needs no loader, makes no span
	require.NoError(t, err)
	request.End()

	loads := h.ended(slotcache.OperationLoad)
	require.Len(t, loads, 1)
	load := loads[0]
	assert.Equal(t, request.SpanContext().TraceID(), load.SpanContext().TraceID())
	assert.Equal(t, request.SpanContext().SpanID(), load.Parent().SpanID(), "the load is a child of the caller's span")
	db := h.ended("db.query")
	require.Len(t, db, 1)
	assert.Equal(t, load.SpanContext().SpanID(), db[0].Parent().SpanID(), "the loader's spans are children of the load")
	_, has := attr(load, slotcacheotel.AttrSlotID)
	assert.False(t, has, "slot IDs are not recorded unless asked for")
	assert.Equal(t, codes.Unset, load.Status().Code)
	assert.Len(t, h.spans.Ended(), 3, "request, load, db: the hit made none")
}

// TestSpansRecordErrorsAndOptInSlotIDs: a failed load's span carries the
// error; with WithSlotIDs, spans carry the slot ID; invalidations get a
// producer span; named caches are named.
func TestSpansRecordErrorsAndOptInSlotIDs(t *testing.T) {
	h := newHarness(t, slotcacheotel.WithSlotIDs())
	ctx := context.Background()
	_, err := h.engine.Get(ctx, "s1", func(context.Context, string) (any, error) { return nil, errors.New("db down") })
	require.Error(t, err)
	require.NoError(t, h.engine.Invalidate(ctx, "s1"))
	users, err := slotcache.NewCache(h.engine, "users", func(context.Context, string) (int, error) { return 1, nil })
	require.NoError(t, err)
	_, err = users.Get(ctx, "u")
	require.NoError(t, err)

	loads := h.ended(slotcache.OperationLoad)
	require.Len(t, loads, 2)
	assert.Equal(t, codes.Error, loads[0].Status().Code)
	assert.Equal(t, "db down", loads[0].Status().Description)
	id, ok := attr(loads[0], slotcacheotel.AttrSlotID)
	require.True(t, ok)
	assert.Equal(t, "s1", id.AsString())
	cache, ok := attr(loads[1], slotcacheotel.AttrCache)
	require.True(t, ok)
	assert.Equal(t, "users", cache.AsString())

	pubs := h.ended(slotcache.OperationPublish)
	require.Len(t, pubs, 1)
	assert.Equal(t, trace.SpanKindProducer, pubs[0].SpanKind())
}

// TestFillOperationsCarryOutcome: fill leases and waits end with their
// outcome as an attribute, and waits are timed into the fill wait
// histogram. (The engine-level test that fill coordination reports them is
// TestFillObserverSeesLeaseAndWait in the root package.)
func TestFillOperationsCarryOutcome(t *testing.T) {
	h := newHarness(t)
	obs, err := slotcacheotel.NewObserver(slotcacheotel.WithTracerProvider(h.tp), slotcacheotel.WithMeterProvider(h.mp))
	require.NoError(t, err)
	_, end := obs.Start(context.Background(), slotcache.Operation{Name: slotcache.OperationFillWait, SlotID: "s"})
	end("follower_woken", nil)
	waits := h.ended(slotcache.OperationFillWait)
	require.Len(t, waits, 1)
	v, ok := attr(waits[0], slotcacheotel.AttrFillOutcome)
	require.True(t, ok)
	assert.Equal(t, "follower_woken", v.AsString())
	assert.Equal(t, uint64(1), histogramCount(t, h, "slotcache.fill.wait.duration", ""))
}

// TestMetricsThroughMeter: counters, gauges and the load histogram reach
// an OTel reader, per cache, and counters never go backwards across Reset.
func TestMetricsThroughMeter(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	load := func(context.Context, string) (any, error) { return 1, nil }
	for _, id := range []string{"a", "a", "b"} {
		_, err := h.engine.Get(ctx, id, load)
		require.NoError(t, err)
	}
	users, err := slotcache.NewCache(h.engine, "users", func(context.Context, string) (int, error) { return 1, nil })
	require.NoError(t, err)
	_, err = users.Get(ctx, "u")
	require.NoError(t, err)

	assert.Equal(t, int64(1), sum(t, h, "slotcache.hits", ""))
	assert.Equal(t, int64(2), sum(t, h, "slotcache.loads", ""))
	assert.Equal(t, int64(1), sum(t, h, "slotcache.loads", "users"))
	assert.Equal(t, uint64(2), histogramCount(t, h, "slotcache.load.duration", ""))
	assert.Equal(t, uint64(1), histogramCount(t, h, "slotcache.load.duration", "users"))

	h.engine.Reset()
	assert.Equal(t, int64(2), sum(t, h, "slotcache.loads", ""), "Reset does not make counters go backwards")
	_, err = h.engine.Get(ctx, "c", load)
	require.NoError(t, err)
	assert.Equal(t, int64(3), sum(t, h, "slotcache.loads", ""))
}

func collect(t *testing.T, h *harness) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, h.reader.Collect(context.Background(), &rm))
	return rm
}

func cacheOf(set attribute.Set) string {
	v, _ := set.Value(slotcacheotel.AttrCache)
	return v.AsString()
}

// metric returns metric name as collected now.
func metric(t *testing.T, h *harness, name string) metricdata.Metrics {
	t.Helper()
	for _, sm := range collect(t, h).ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m
			}
		}
	}
	t.Fatalf("no metric %s", name)
	return metricdata.Metrics{}
}

// sum returns the value of counter name for cache ("" for the root).
func sum(t *testing.T, h *harness, name, cache string) int64 {
	t.Helper()
	s, ok := metric(t, h, name).Data.(metricdata.Sum[int64])
	require.True(t, ok, "%s is a sum", name)
	assert.True(t, s.IsMonotonic)
	for _, dp := range s.DataPoints {
		if cacheOf(dp.Attributes) == cache {
			return dp.Value
		}
	}
	t.Fatalf("no %s for cache %q", name, cache)
	return 0
}

// histogramCount returns the number of durations in histogram name.
func histogramCount(t *testing.T, h *harness, name, cache string) uint64 {
	t.Helper()
	hd, ok := metric(t, h, name).Data.(metricdata.Histogram[float64])
	require.True(t, ok, "%s is a histogram", name)
	for _, dp := range hd.DataPoints {
		if cacheOf(dp.Attributes) == cache {
			return dp.Count
		}
	}
	t.Fatalf("no %s for cache %q", name, cache)
	return 0
}
