package slotcache

import (
	"context"

	"github.com/slotcache/slotcache/internal/core"
)

// Names of the operations an Observer sees. They are the span names
// slotcacheotel uses.
const (
	// OperationLoad is one shared load: the loader call, or with WithFill
	// the coordination around it. Stats.LoadLatency times it.
	OperationLoad = core.OpLoad
	// OperationFillLease is a load run holding a slot's fill lease, from
	// the lease to its commit or release (WithFill).
	OperationFillLease = core.OpFillLease
	// OperationFillWait is a follower waiting for another instance's fill,
	// up to the value it ends with (WithFill). Stats.FillWait times it.
	OperationFillWait = core.OpFillWait
	// OperationPublish is an Invalidate or InvalidateAll reaching the other
	// instances: with WithFill the shared copy's deletion, then the publish
	// (or its queueing in the outbox when Redis does not take it in time).
	OperationPublish = core.OpPublish
)

// Operation is one slow-path step slotcache tells its Observer about.
type Operation struct {
	// Name is one of the Operation* constants.
	Name string
	// Cache is the named cache's name, "" for the engine New returned.
	Cache string
	// SlotID is the slot concerned, "*" for InvalidateAll. It can be
	// sensitive (user or tenant IDs): observers should not export it
	// unless their user asked for it.
	SlotID string
}

// Observer hears about the slow path: loads, fill leases and waits,
// published invalidations. It exists so that tracing and metrics backends
// plug in without slotcache importing them; slotcacheotel is one.
//
// Start is called when op begins, from the goroutine that runs it. It
// returns the context the operation continues with (the loader receives
// the one of its load, so its own spans nest under it) and a function that
// slotcache calls exactly once when op ends, with the fill outcome (a
// FillOutcome name, "" outside fill coordination) and the error, if any.
// Hits never reach an Observer. It must be safe for concurrent use.
type Observer interface {
	Start(ctx context.Context, op Operation) (context.Context, func(outcome string, err error))
}

// WithObserver makes the engine tell o about its loads, fill leases and
// waits and published invalidations (see Observer). Named caches inherit
// it. Without it the engine still times loads and fill waits for Stats.
func WithObserver(o Observer) Option {
	return func(c *config) error {
		c.observer = o
		return nil
	}
}

// hook adapts an Observer to the engine's internal hook; nil for none.
func hook(o Observer) core.Hook {
	if o == nil {
		return nil
	}
	return func(ctx context.Context, op, cache, slotID string) (context.Context, func(string, error)) {
		return o.Start(ctx, Operation{Name: op, Cache: cache, SlotID: slotID})
	}
}

// observed runs publish (the engine's broadcast) as an OperationPublish.
func (e *Engine) observed(ctx context.Context, slotID string, publish func(context.Context, string) error) error {
	ctx, span := e.observe.Start(ctx, core.OpPublish, slotID)
	err := publish(ctx, slotID)
	span.End("", err)
	return err
}
