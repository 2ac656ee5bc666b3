package core

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// Handle is a slot as the rest of the engine sees it: the slot actor's PID
// for misses, and the published entry and generation for hits. Readers use
// it without messages; the slot actor is the only writer of the entry, and
// invalidators bump the generation directly so that readers miss at once,
// before the actor has processed anything.
type Handle struct {
	// ID is the slot ID, e.g. "compat:deepseek".
	ID string
	// PID is the slot actor. Set by the router before the handle is published.
	PID *actor.PID

	entry atomic.Pointer[Entry]
	gen   atomic.Uint64

	// Policy is the slot's behaviour, chosen once when the router spawns
	// it.
	Policy Policy
	// LastLoad is the loader of the latest Get, used for background
	// reloads that no caller asked for. Only the slot actor touches it.
	LastLoad func(ctx context.Context, slotID string) (any, error)

	// NextFlight numbers the slot's loads. It lives here, not in the actor,
	// so numbers stay unique across actor restarts and a late result from a
	// previous incarnation's load is recognised and ignored. Only the slot
	// actor touches it.
	NextFlight uint64

	done     chan struct{}
	doneOnce sync.Once
}

// NewHandle returns the handle of a slot that has no entry yet.
func NewHandle(id string) *Handle {
	return &Handle{ID: id, done: make(chan struct{})}
}

// Entry returns the published entry, which may be stale or nil.
func (h *Handle) Entry() *Entry { return h.entry.Load() }

// Publish replaces the entry. Only the slot actor calls it.
func (h *Handle) Publish(e *Entry) { h.entry.Store(e) }

// Drop removes e if it is still the published entry, to free its memory.
func (h *Handle) Drop(e *Entry) { h.entry.CompareAndSwap(e, nil) }

// Gen is the slot's current generation.
func (h *Handle) Gen() uint64 { return h.gen.Load() }

// Invalidate bumps the generation, which makes the current entry and any
// load in flight stale for every reader at once.
func (h *Handle) Invalidate() { h.gen.Add(1) }

// Done is closed when the slot actor has stopped for good. A caller waiting
// on the actor watches it so that it retries instead of hanging when it
// raced a stop.
func (h *Handle) Done() <-chan struct{} { return h.done }

// MarkDone closes Done. Safe to call more than once.
func (h *Handle) MarkDone() { h.doneOnce.Do(func() { close(h.done) }) }

// Stopped reports whether Done is closed.
func (h *Handle) Stopped() bool {
	select {
	case <-h.done:
		return true
	default:
		return false
	}
}
