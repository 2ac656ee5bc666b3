package core

import (
	"context"
	"time"

	"github.com/slotcache/slotcache/internal/metrics"
)

// Names of the slow-path operations an Observe sees; the root package
// exports them as Operation names.
const (
	// OpLoad is one shared load: the loader call, or the fill coordination
	// around it with WithFill. Its duration goes into Observe.Loads.
	OpLoad = "slotcache.load"
	// OpFillLease is a load this instance runs holding a slot's fill lease,
	// from taking the lease to committing or releasing it.
	OpFillLease = "slotcache.fill.lease"
	// OpFillWait is a follower waiting for another instance's fill; its
	// duration goes into Observe.FillWaits.
	OpFillWait = "slotcache.fill.wait"
	// OpPublish is one Invalidate or InvalidateAll reaching the other
	// instances: the shared copy's deletion (WithFill), then the publish.
	OpPublish = "slotcache.invalidate"
)

// Hook starts an operation for an observer (tracing, OTel metrics) and
// returns the context for what runs inside it and the function that ends
// it, given the fill outcome ("" outside fill) and the error, if any.
type Hook func(ctx context.Context, op, cache, slotID string) (context.Context, func(outcome string, err error))

// Observe is what the slow path records beyond counters: the load and fill
// wait histograms, always on, and an optional Hook. Its zero value records
// histograms only. Hits never reach it.
type Observe struct {
	// Loads is the histogram of OpLoad durations.
	Loads metrics.Histogram
	// FillWaits is the histogram of OpFillWait durations.
	FillWaits metrics.Histogram
	// Cache is the name of the cache, "" for the engine New returned; set
	// before the engine serves.
	Cache string
	// Hook is called around every operation; nil for none. Set before the
	// engine serves.
	Hook Hook
}

// Span is one operation in progress. Its zero value (from a nil Observe)
// does nothing.
type Span struct {
	o     *Observe
	op    string
	start time.Time
	end   func(string, error)
}

// Start begins op on slotID. The clock is read only for operations with a
// histogram; the Hook, if any, may derive ctx (a span for the loader's own
// spans to hang under). A nil o starts nothing, for coordinators built
// without an engine.
func (o *Observe) Start(ctx context.Context, op, slotID string) (context.Context, Span) {
	if o == nil {
		return ctx, Span{}
	}
	s := Span{o: o, op: op}
	if op == OpLoad || op == OpFillWait {
		s.start = time.Now()
	}
	if o.Hook != nil {
		ctx, s.end = o.Hook(ctx, op, o.Cache, slotID)
	}
	return ctx, s
}

// End ends the operation, recording its duration in its histogram before
// the Hook hears of it.
func (s Span) End(outcome string, err error) {
	if s.o == nil {
		return
	}
	switch s.op {
	case OpLoad:
		s.o.Loads.Observe(time.Since(s.start))
	case OpFillWait:
		s.o.FillWaits.Observe(time.Since(s.start))
	}
	if s.end != nil {
		s.end(outcome, err)
	}
}

// ResetHistograms zeroes the histograms, for Engine.Reset.
func (o *Observe) ResetHistograms() {
	if o == nil {
		return
	}
	o.Loads.Reset()
	o.FillWaits.Reset()
}
