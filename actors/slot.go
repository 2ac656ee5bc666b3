package actors

import (
	"context"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/slotcache/slotcache/internal/core"
	"github.com/slotcache/slotcache/messages"
)

// flight is one load in progress and the callers waiting for it. It records
// the generation and epoch it started under: its result is cached only if
// both are still current when it completes, which is how an invalidation
// overtakes a load that was already running.
//
// A flight is also its load's context (loadCtx) and the message that
// reports its end (the loader goroutine fills result and sends the flight
// itself to the slot), so that a load costs one allocation for all three.
type flight struct {
	loadCtx
	id         uint64
	gen, epoch uint64
	env        *core.Env
	self       *actor.PID
	started    int64 // Clock nanoseconds, for core.Entry.Loaded
	waiters    []*messages.Get
	first      [1]*messages.Get // backs waiters for the usual single waiter
	timing     *core.Timing     // decided while a fill leader shared the value
	slotID     string
	load       core.Loader

	// The load timeout: the flight waits in its engine's deadlines list,
	// whose lock guards the links.
	deadlines  *deadlines
	prev, next *flight
	listed     bool

	// Written by the loader goroutine before it sends the flight; read by
	// the actor after it received it.
	result core.FillResult
	panic  *core.PanicError
}

// flightTimeout is a flight sent to its slot by its timer: the load ran
// past the load timeout.
type flightTimeout flight

// end takes the flight off the deadlines list and cancels its context (a
// no-op if the loader has returned).
func (f *flight) end() {
	f.deadlines.remove(f)
	f.cancel(context.Canceled)
}

// slot is the actor that owns one cache key while it is bound to it (see
// lifecycle.go). It is the only writer of its handle's entry; it
// serialises loads so that concurrent misses share one loader call; it
// decides once per load whether and how long to cache the value; it never
// blocks in Receive. A new slot struct is produced on every restart;
// everything that must survive a restart or a passivation lives in the
// handle.
type slot struct {
	env *core.Env
	lifecycle
	flights map[uint64]*flight // usually 0 or 1; more only across invalidations
	current *flight            // the flight new waiters join, if still current
}

// slotProps returns the props of a slot actor born bound to b, running in
// place (see callerMailbox), its loads on r's workers and timed out by r's
// deadlines, waiting to passivate in r's idle queue.
func slotProps(env *core.Env, b *core.Binding, r *router) *actor.Props {
	c := &cell{h: b.H, b: b, idleQ: r.idle, run: r.workers, deadlines: r.deadlines}
	return actor.PropsFromProducer(func() actor.Actor {
		return &slot{env: env, lifecycle: lifecycle{cell: c}, flights: make(map[uint64]*flight, 1)}
	}, actor.WithMailbox(slotMailbox))
}

// Receive implements actor.Actor. Requests from outside were admitted by
// the binding (Took acknowledges each); the actor's own messages (load
// results, timers) were not.
func (s *slot) Receive(ctx actor.Context) { s.receive(ctx, ctx.Message()) }

// receive handles msg, ctx's message or the first request a binding
// carried.
func (s *slot) receive(ctx actor.Context, msg any) {
	switch m := msg.(type) {
	case *messages.Get:
		s.b.Took()
		s.handleGet(ctx, m)
	case *messages.Invalidate, *messages.InvalidateAll:
		s.b.Took()
		s.env.Reclaim(s.h)
		if s.h.Policy.Invalidated(s.h.ID) {
			s.reload(ctx)
		}
	case *messages.Refresh:
		s.b.Took()
		if _, late := s.env.Lookup(s.h); late {
			s.reload(ctx)
		}
	case *Set:
		s.b.Took()
		s.set(m)
	case *reloadNow:
		s.b.Took()
		s.reload(ctx)
	case *flight:
		s.loadDone(ctx, m)
	case *flightTimeout:
		s.loadTimedOut((*flight)(m))
	case *shareDecision:
		s.decideShare(m)
	case *servedCopy:
		s.serveCopy(m)
	case *idleTick:
		s.ticked(ctx)
		return
	case *core.Binding:
		if first := s.take(m); first != nil {
			s.receive(ctx, first)
			return
		}
	case *actor.Started:
	case *actor.Restarting:
		s.restarting(ctx)
		return
	case *actor.Stopping:
		s.stopping()
		return
	default:
		return
	}
	s.idle(ctx)
}

// reloadNow asks a slot to reload in the background: the router sends it
// when an invalidation of a slot without an actor calls for a reload.
type reloadNow struct{}

func (s *slot) get(ctx actor.Context, m *messages.Get) {
	s.h.Owned.LastLoad = m.Load
	if e, late := s.env.Lookup(s.h); e != nil {
		reply(m, messages.Result{Value: e.Value})
		if late && e.RequestRefresh(s.env.Clock.Now()) {
			s.reload(ctx)
		}
		return
	}
	if b := s.env.Bound; b != nil {
		b.Missed(s.h)
	}
	f, joined := s.flight(ctx, m.Ctx)
	if joined {
		s.env.Stats.Coalesced.Add(1)
	}
	f.waiters = append(f.waiters, m)
}

// flight returns the load in flight for the slot's current generation and
// epoch, starting one if there is none, and whether it was already there.
func (s *slot) flight(ctx actor.Context, caller context.Context) (f *flight, joined bool) {
	gen, epoch := s.h.Gen(), s.env.Epoch()
	if f := s.current; f != nil && f.gen == gen && f.epoch == epoch && s.env.Joinable(f.started) {
		return f, true
	}
	return s.start(ctx, caller, gen, epoch), false
}

// reload starts a background load nobody waits for (refresh-ahead,
// stale-while-revalidate, reload on invalidation), unless one is running.
// It needs a loader from an earlier Get.
func (s *slot) reload(ctx actor.Context) {
	if s.h.Owned.LastLoad != nil {
		if _, joined := s.flight(ctx, nil); !joined {
			s.env.Stats.Refreshes.Add(1)
		}
	}
}

// start launches a load for the slot's current generation and epoch. The
// loader's context carries the values of the caller that started it
// (caller, nil for a background reload), not those of callers that join
// later, and not the caller's cancellation: the load serves every waiter.
// It is cancelled after the load timeout and when the actor stops (Close);
// the timeout also answers the waiters, even if the loader ignores its
// context.
func (s *slot) start(ctx actor.Context, caller context.Context, gen, epoch uint64) *flight {
	f := &flight{id: s.env.NextFlight(), gen: gen, epoch: epoch, env: s.env, self: ctx.Self(), started: s.env.Clock.Now(), deadlines: s.deadlines}
	f.init(caller, s.env.LoadTimeout)
	f.waiters = f.first[:0]
	s.deadlines.add(f)
	s.flights[f.id] = f
	s.current = f
	s.env.LoaderStarted()
	f.slotID, f.load = s.h.ID, s.h.Owned.LastLoad
	s.run.run(f)
	return f
}

// finish removes f from the slot's flights.
func (s *slot) finish(f *flight) {
	f.end()
	delete(s.flights, f.id)
	if s.current == f {
		s.current = nil
	}
}

// current reports whether a load of flight f may still be cached: no
// invalidation overtook it.
func (s *slot) isCurrent(f *flight) bool {
	return f.gen == s.h.Gen() && f.epoch == s.env.Epoch()
}

func (s *slot) loadDone(ctx actor.Context, f *flight) {
	if s.flights[f.id] != f {
		// Timed out already, or started by a previous incarnation: its
		// waiters were answered, and the actor may serve another slot by
		// now, so a panic restarts nothing; but it is a loader bug all the
		// same, and must not go unseen.
		if p := f.panic; p != nil {
			s.env.Stats.LoaderPanics.Add(1)
			s.env.Logger.Error("slotcache: loader panicked after its load had ended", "slot", f.slotID, "panic", p.Value, "stack", string(p.Stack))
		}
		return
	}
	s.finish(f)
	r := f.result
	if r.Err != nil {
		s.env.Stats.LoadErrors.Add(1)
		s.failed(f, r.Err)
		answer(f, messages.Result{Err: r.Err})
		if p := f.panic; p != nil {
			s.env.Stats.LoaderPanics.Add(1)
			// protoactor reports the failure only at Info, which callers'
			// loggers usually drop: a loader bug deserves an error.
			s.env.Logger.Error("slotcache: loader panicked; restarting the slot", "slot", s.h.ID, "panic", p.Value, "stack", string(p.Stack))
			// Fail like the loader did, so the supervisor restarts the slot
			// from a clean state; the waiters already have their error.
			panic(fmt.Sprintf("slotcache: loader of slot %q panicked: %v", s.h.ID, p.Value))
		}
		return
	}
	s.h.Owned.Failures = 0
	if s.isCurrent(f) {
		s.cache(f, r)
	}
	// Waiters asked before any invalidation that overtook the load, so the
	// value answers them even when it is not cached.
	answer(f, messages.Result{Value: r.Value})
}

func (s *slot) loadTimedOut(f *flight) {
	if s.flights[f.id] != f {
		return
	}
	s.finish(f)
	s.env.Stats.LoadErrors.Add(1)
	s.env.Stats.LoadTimeouts.Add(1)
	err := fmt.Errorf("%w: slot %q after %v: %w", core.ErrLoadTimeout, s.h.ID, s.env.LoadTimeout, context.DeadlineExceeded)
	s.failed(f, err)
	answer(f, messages.Result{Err: err})
}

func answer(f *flight, r messages.Result) {
	for _, w := range f.waiters {
		reply(w, r)
	}
	f.waiters = nil
}

// reply never blocks the actor: the channel has room for one answer, and a
// request is answered at most once.
func reply(m *messages.Get, r messages.Result) {
	select {
	case m.Reply <- r:
	default:
	}
}

// backoff is how long hits wait before they ask again for a reload of an
// entry of lifetime ttl after failures consecutive failed loads: a
// sixteenth of the lifetime, doubling with each failure up to the whole
// lifetime, so that a failing source is asked a few times per lifetime,
// not by every hit.
func backoff(ttl time.Duration, failures int) time.Duration {
	d := max(ttl/16, time.Millisecond)
	for range min(failures, 16) - 1 {
		d *= 2
		if d >= ttl {
			return max(ttl, time.Millisecond)
		}
	}
	return d
}
