package core

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Env is the engine-wide state that slot actors, the router and the engine
// share: one per Engine, built whole by NewEnv before any actor starts and
// immutable afterwards except through its atomic fields.
type Env struct {
	// Ctx is cancelled when the engine closes; every load's context is
	// cancelled with it.
	Ctx context.Context
	// Root sends messages from outside the actor system (callers, loaders,
	// timers).
	Root *actor.RootContext
	// Clock is the engine's clock; deadlines are in its nanoseconds.
	Clock *Clock
	// LoadTimeout bounds one shared load.
	LoadTimeout time.Duration
	// SharedTTL is the lifetime of shared copies (WithFill) that behaviours
	// start from; zero: the TTL.
	SharedTTL time.Duration
	// PassivateAfter is how long a slot actor stays idle before it gives
	// its slot up.
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
	// per handle it makes.
	PolicyFor func(slotID string) Policy
	// Observe records load and fill-wait latency and calls the observer;
	// nil records nothing.
	Observe *Observe

	stale   staleness    // see staleness.go
	cached  atomic.Int64 // slots with an entry, servable or not yet swept
	epoch   atomic.Uint64
	ttl     atomic.Int64
	flights atomic.Uint64 // numbers loads engine-wide; see NextFlight
	loaders Group
}

// EnvConfig is what NewEnv needs. Zero PolicyFor means the default policy
// for every slot; zero MaxSlots means unbounded.
type EnvConfig struct {
	Ctx            context.Context
	Root           *actor.RootContext
	Clock          *Clock
	TTL            time.Duration
	SharedTTL      time.Duration
	LoadTimeout    time.Duration
	PassivateAfter time.Duration
	Logger         *slog.Logger
	MaxSlots       int
	Filler         Filler
	PolicyFor      func(slotID string) Policy
	Observe        *Observe
}

// NewEnv returns the Env of an engine whose slots are listed in dir.
// Several engines (named caches) may share one clock.
func NewEnv(cfg EnvConfig, dir *Directory) *Env {
	env := &Env{
		Ctx:            cfg.Ctx,
		Root:           cfg.Root,
		Clock:          cfg.Clock,
		LoadTimeout:    cfg.LoadTimeout,
		SharedTTL:      cfg.SharedTTL,
		PassivateAfter: cfg.PassivateAfter,
		Logger:         cfg.Logger,
		Stats:          Stats{Hits: NewCounter()},
		Filler:         cfg.Filler,
		PolicyFor:      cfg.PolicyFor,
		Observe:        cfg.Observe,
	}
	if env.PolicyFor == nil {
		env.PolicyFor = func(string) Policy { return DefaultPolicy{} }
	}
	if cfg.MaxSlots > 0 {
		env.Bound = NewBound(cfg.MaxSlots, dir)
	}
	env.ttl.Store(int64(cfg.TTL))
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

// NextFlight numbers a load. Numbers are unique across slots, actors and
// restarts, so a late result of a load that its actor no longer tracks is
// recognised and ignored.
func (env *Env) NextFlight() uint64 { return env.flights.Add(1) }

// Lookup returns h's entry if it may be served: loaded under the slot's
// current generation and the engine's current epoch, and before its
// StaleUntil. late reports that it is past its refresh point (Soft), so the
// caller should ask the slot for a background reload. It takes no lock and
// allocates nothing; with the default behaviour it reads the clock once.
func (env *Env) Lookup(h *Handle) (e *Entry, late bool) {
	e = h.entry.Load()
	if e == nil || e.Gen != h.gen.Load() || e.Epoch != env.epoch.Load() || !env.withinStaleness(e) {
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
func (env *Env) LoaderStarted()  { env.loaders.Add() }
func (env *Env) LoaderReturned() { env.loaders.Done() }

// Cached is the number of slots holding an entry, including stale ones not
// yet swept.
func (env *Env) Cached() int64 { return env.cached.Load() }
