package core

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Env is the engine-wide state that slot actors, the router and the engine
// share: one per Engine, created before any actor and immutable afterwards
// except through its atomic fields.
type Env struct {
	// Ctx is cancelled when the engine closes; every load's context derives
	// from it so that Close cancels loads in flight.
	Ctx context.Context
	// Root sends messages from outside the actor system (callers, loaders,
	// timers).
	Root *actor.RootContext
	// Clock is the engine's clock; deadlines are in its nanoseconds.
	Clock *Clock
	// LoadTimeout bounds one shared load.
	LoadTimeout time.Duration
	// PassivateAfter is how long a slot actor stays idle before it stops.
	PassivateAfter time.Duration
	// Logger receives the engine's own logs; it discards by default.
	Logger *slog.Logger
	// Stats are the engine's counters.
	Stats Stats
	// Bound keeps the number of cached slots within a limit; nil when
	// unbounded.
	Bound *Bound
	// Filler coordinates loads across instances; nil without WithFill.
	Filler Filler
	// PolicyFor returns the behaviour of a slot; the router asks it once
	// per slot actor it spawns.
	PolicyFor func(slotID string) Policy
	// Observe records load and fill-wait latency and calls the observer.
	Observe Observe

	cached  atomic.Int64 // slots with an entry, servable or not yet swept
	epoch   atomic.Uint64
	ttl     atomic.Int64
	loaders sync.WaitGroup
}

// NewEnv returns an Env with its counters ready. Several engines (named
// caches) may share one clock.
func NewEnv(ctx context.Context, root *actor.RootContext, clock *Clock, ttl, loadTimeout time.Duration, logger *slog.Logger) *Env {
	env := &Env{
		Ctx:         ctx,
		Root:        root,
		Clock:       clock,
		LoadTimeout: loadTimeout,
		Logger:      logger,
		Stats:       Stats{Hits: NewCounter()},
		PolicyFor:   func(string) Policy { return DefaultPolicy{} },
	}
	env.ttl.Store(int64(ttl))
	return env
}

// Epoch is the engine-wide generation that InvalidateAll bumps: O(1) for
// any number of slots, and no reader can miss it.
func (env *Env) Epoch() uint64 { return env.epoch.Load() }

// Flush makes every entry and every load in flight stale.
func (env *Env) Flush() { env.epoch.Add(1) }

// TTL is the lifetime given to entries loaded from now on.
func (env *Env) TTL() time.Duration { return time.Duration(env.ttl.Load()) }

// SetTTL changes the TTL for loads that complete from now on.
func (env *Env) SetTTL(d time.Duration) { env.ttl.Store(int64(d)) }

// Lookup returns h's entry if it may be served: loaded under the slot's
// current generation and the engine's current epoch, and before its
// StaleUntil. late reports that it is past its refresh point (Soft), so the
// caller should ask the slot for a background reload. It takes no lock and
// allocates nothing; with the default behaviour it reads the clock once.
func (env *Env) Lookup(h *Handle) (e *Entry, late bool) {
	e = h.entry.Load()
	if e == nil || e.Gen != h.gen.Load() || e.Epoch != env.epoch.Load() {
		return nil, false
	}
	if env.Clock.Before(e.Soft) {
		return e, false
	}
	if e.Soft == e.StaleUntil || !env.Clock.Before(e.StaleUntil) {
		return nil, false
	}
	return e, true
}

// Fresh is Lookup for callers that do not refresh: the servable entry or
// nil.
func (env *Env) Fresh(h *Handle) *Entry {
	e, _ := env.Lookup(h)
	return e
}

// LoaderStarted and LoaderReturned track loader goroutines so that Close
// can wait for them.
func (env *Env) LoaderStarted()  { env.loaders.Add(1) }
func (env *Env) LoaderReturned() { env.loaders.Done() }

// WaitLoaders waits up to grace for loader goroutines to return. Call it
// only once no new load can start.
func (env *Env) WaitLoaders(grace time.Duration) {
	done := make(chan struct{})
	go func() {
		env.loaders.Wait()
		close(done)
	}()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		env.Logger.Warn("slotcache: loaders still running after Close", "grace", grace)
	}
}

// Cached is the number of slots holding an entry, including stale ones not
// yet swept.
func (env *Env) Cached() int64 { return env.cached.Load() }

// Publish makes e the entry of h, counting a slot that had none unless its
// place was reserved with Reserve.
func (env *Env) Publish(h *Handle, e *Entry, reserved bool) {
	if h.Publish(e) && !reserved {
		env.cached.Add(1)
	}
}

// Drop removes e from h if it is still its entry, counting the eviction
// under reason, and reports whether it did.
func (env *Env) Drop(h *Handle, e *Entry, reason int) bool {
	if !h.Drop(e) {
		return false
	}
	env.cached.Add(-1)
	switch reason {
	case ReasonSize:
		env.Stats.EvictedSize.Add(1)
	case ReasonExpired:
		env.Stats.EvictedExpired.Add(1)
	case ReasonInvalidated:
		env.Stats.EvictedInvalidated.Add(1)
	}
	return true
}

// Reclaim drops h's entry if it can no longer be served, counting it as
// invalidated or expired, and reports whether it did. The slot actor, the
// sweeper and the evictor all reclaim through it.
func (env *Env) Reclaim(h *Handle) bool {
	e := h.Entry()
	if e == nil || env.Fresh(h) != nil {
		return false
	}
	reason := ReasonExpired
	if e.Gen != h.Gen() || e.Epoch != env.Epoch() {
		reason = ReasonInvalidated
	}
	return env.Drop(h, e, reason)
}
