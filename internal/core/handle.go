package core

import (
	"context"
	"sync/atomic"
)

// Loader loads a slot's value; it is the root package's Loader without
// the named type.
type Loader = func(ctx context.Context, slotID string) (any, error)

// Handle is a slot as the rest of the engine sees it: its published entry
// and generation for hits, and its binding, when an actor owns it, for
// misses. Readers use it without messages; the slot's actor publishes the
// entry, and invalidators bump the generation directly so that readers
// miss at once, before any actor has processed anything.
//
// A handle outlives its actors: an actor gives the slot up as soon as it
// has nothing to do (passivation), leaving the entry in the handle, and the
// router binds another one on the next miss.
type Handle struct {
	// ID is the slot ID, e.g. "compat:deepseek".
	ID string
	// Policy is the slot's behaviour, chosen when the handle is made and
	// never changed.
	Policy Policy
	// Owned is the slot's state that only its owner touches: its bound
	// actor, or the router while it has none. Ownership passes between
	// them through the binding, which orders their accesses.
	Owned Owned

	entry   atomic.Pointer[Entry]
	gen     atomic.Uint64
	binding atomic.Pointer[Binding]
	freq    atomic.Uint32 // access frequency for eviction; see Frequency
}

// Owned is the part of a slot that no reader needs: it is written by the
// slot's owner only, never on the hit path.
type Owned struct {
	// LastLoad is the loader of the latest Get that reached the slot's
	// actor. Background reloads that no caller asked for (refresh-ahead,
	// stale-while-revalidate, reload on invalidation) use it, so they run
	// the closure of whichever caller missed last.
	LastLoad Loader
	// Failures counts the slot's consecutive failed loads, so that
	// background reloads of a failing slot back off.
	Failures int
}

// NewHandle returns the handle of a slot that has no entry yet.
func NewHandle(id string, p Policy) *Handle { return &Handle{ID: id, Policy: p} }

// Binding returns the handle's binding, nil if no actor was ever bound; it
// may have been released.
func (h *Handle) Binding() *Binding { return h.binding.Load() }

// Bind records b as the handle's binding. Router only.
func (h *Handle) Bind(b *Binding) { h.binding.Store(b) }

// Unbind forgets b if it is still the handle's binding. Router only.
func (h *Handle) Unbind(b *Binding) { h.binding.CompareAndSwap(b, nil) }

// Enter admits one message to the slot's actor and returns it, or nil if
// the slot has no bound actor (send through the router instead).
func (h *Handle) Enter() *Binding {
	if b := h.binding.Load(); b != nil && b.Enter() {
		return b
	}
	return nil
}

// Bound reports whether an actor owns the slot right now.
func (h *Handle) Bound() bool {
	b := h.binding.Load()
	return b != nil && !b.Released()
}

// Entry returns the published entry, which may be stale or nil.
func (h *Handle) Entry() *Entry { return h.entry.Load() }

// Gen is the slot's current generation.
func (h *Handle) Gen() uint64 { return h.gen.Load() }

// Invalidate bumps the generation, which makes the current entry and any
// load in flight stale for every reader at once.
func (h *Handle) Invalidate() { h.gen.Add(1) }
