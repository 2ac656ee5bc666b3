package slotcacheotel

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of slotcache's tracer and meter.
const ScopeName = "github.com/slotcache/slotcache/slotcacheotel"

// Option configures NewObserver and RegisterMetrics.
type Option func(*config)

type config struct {
	tp      trace.TracerProvider
	mp      metric.MeterProvider
	slotIDs bool
}

func configure(opts []Option) config {
	c := config{tp: otel.GetTracerProvider(), mp: otel.GetMeterProvider()}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// WithTracerProvider sets the provider of spans (default: the global one,
// otel.GetTracerProvider).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tp = tp }
}

// WithMeterProvider sets the provider of metrics (default: the global one,
// otel.GetMeterProvider).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.mp = mp }
}

// WithSlotIDs records each operation's slot ID as the slotcache.slot_id
// span attribute. Off by default: slot IDs often carry user or tenant IDs,
// which traces should not export unless their owner decided so.
func WithSlotIDs() Option {
	return func(c *config) { c.slotIDs = true }
}
