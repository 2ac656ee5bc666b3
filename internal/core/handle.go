package core

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// Handle is a slot as the rest of the engine sees it: its published entry
// and generation for hits, and its actor, when it has one, for misses.
// Readers use it without messages; the slot actor publishes the entry, and
// invalidators bump the generation directly so that readers miss at once,
// before any actor has processed anything.
//
// A handle outlives its actors: a slot actor stops as soon as it has
// nothing to do (passivation), leaving the entry in the handle, and the
// router spawns a new one for the same handle on the next miss. At most one
// actor is active for a handle at any time, so the fields "only the slot
// actor touches" pass from one to the next through the router.
type Handle struct {
	// ID is the slot ID, e.g. "compat:deepseek".
	ID string

	entry atomic.Pointer[Entry]
	gen   atomic.Uint64
	act   atomic.Pointer[Activation]
	freq  atomic.Uint32 // access frequency for eviction; see Frequency

	// Policy is the slot's behaviour, chosen once by the router.
	Policy Policy
	// LastLoad is the loader of the latest Get, used for background
	// reloads that no caller asked for. Only the slot actor touches it.
	LastLoad func(ctx context.Context, slotID string) (any, error)
	// NextFlight numbers the slot's loads. It lives here, not in the actor,
	// so numbers stay unique across restarts and activations, and a late
	// result from an earlier actor's load is recognised and ignored. Only
	// the slot actor touches it.
	NextFlight uint64
}

// Activation is one slot actor's life for a handle. Done is closed when the
// actor has stopped: a caller that sent it a request and watches Done
// retries instead of hanging if the actor passivated before answering.
type Activation struct {
	PID *actor.PID
	// Loads counts the loads this actor started. An Idle report carries
	// it, so the router can tell that the actor got work after reporting.
	Loads atomic.Uint64

	done chan struct{}
	once sync.Once
}

// NewActivation returns the activation of a slot actor about to start.
func NewActivation() *Activation { return &Activation{done: make(chan struct{})} }

// Done is closed once the actor has stopped.
func (a *Activation) Done() <-chan struct{} { return a.done }

// MarkDone closes Done. Safe to call more than once.
func (a *Activation) MarkDone() { a.once.Do(func() { close(a.done) }) }

// Stopped reports whether Done is closed.
func (a *Activation) Stopped() bool {
	select {
	case <-a.done:
		return true
	default:
		return false
	}
}

// NewHandle returns the handle of a slot that has no entry yet.
func NewHandle(id string) *Handle { return &Handle{ID: id} }

// Active returns the handle's live activation, or nil if it has no actor.
func (h *Handle) Active() *Activation {
	if a := h.act.Load(); a != nil && !a.Stopped() {
		return a
	}
	return nil
}

// SetActivation records the handle's new actor. Router only.
func (h *Handle) SetActivation(a *Activation) { h.act.Store(a) }

// ClearActivation forgets a, if it is still the handle's. Router only.
func (h *Handle) ClearActivation(a *Activation) { h.act.CompareAndSwap(a, nil) }

// Entry returns the published entry, which may be stale or nil.
func (h *Handle) Entry() *Entry { return h.entry.Load() }

// Publish makes e the entry and reports whether the slot had none before,
// so that the caller can count cached slots. Only the slot actor calls it.
func (h *Handle) Publish(e *Entry) (added bool) {
	return h.entry.Swap(e) == nil
}

// Drop removes e if it is still the entry and reports whether it did. The
// slot actor, the sweeper and the evictor may race to drop the same entry;
// exactly one of them wins and counts it.
func (h *Handle) Drop(e *Entry) bool {
	return e != nil && h.entry.CompareAndSwap(e, nil)
}

// Gen is the slot's current generation.
func (h *Handle) Gen() uint64 { return h.gen.Load() }

// Invalidate bumps the generation, which makes the current entry and any
// load in flight stale for every reader at once.
func (h *Handle) Invalidate() { h.gen.Add(1) }
