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
type flight struct {
	id         uint64
	gen, epoch uint64
	waiters    []*messages.Get
	stopWatch  func() bool // stops the timeout watch
	cancel     context.CancelFunc
}

// end releases the flight's context and timeout watch without firing it.
func (f *flight) end() {
	f.stopWatch()
	f.cancel()
}

// slot is the actor that owns one cache key. It is the only writer of its
// handle's entry; it serialises loads so that concurrent misses share one
// loader call; it never blocks in Receive.
//
// A slot actor lives only while it has work: once it has no load in
// flight it tells the router, which stops it (passivation); the entry stays
// in the handle and the next miss starts a new actor. A new slot struct is
// produced on every restart; everything that must survive a restart or a
// passivation lives in the handle.
type slot struct {
	env       *core.Env
	h         *core.Handle
	act       *core.Activation
	flights   map[uint64]*flight // usually 0 or 1; more only across invalidations
	current   *flight            // the flight new waiters join, if still current
	idleSent  bool               // the router was, or will be, told this actor is idle
	idleTimer *time.Timer        // delays that report by env.PassivateAfter
}

// slotProps returns the props of actor activation act of handle h.
func slotProps(env *core.Env, h *core.Handle, act *core.Activation) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor {
		return &slot{env: env, h: h, act: act, flights: make(map[uint64]*flight, 1)}
	})
}

// Receive implements actor.Actor.
func (s *slot) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *messages.Get:
		s.get(ctx, m)
	case *messages.LoadDone:
		s.loadDone(ctx, m)
	case *messages.LoadTimedOut:
		s.loadTimedOut(m)
	case *messages.Passivate:
		if len(s.flights) == 0 {
			s.env.Stats.Passivations.Add(1)
			ctx.Stop(ctx.Self())
			return
		}
		s.idleSent = false
		ctx.Send(ctx.Parent(), &messages.Busy{Activation: s.act})
		return
	case *messages.Refresh:
		if _, late := s.env.Lookup(s.h); late {
			s.reload(ctx)
		}
	case *messages.Invalidate, *messages.InvalidateAll:
		s.env.Reclaim(s.h)
		if s.h.Policy.Invalidated(s.h.ID) {
			s.reload(ctx)
		}
	case *actor.Restarting:
		s.env.Stats.SlotRestarts.Add(1)
		s.stopIdleTimer()
		s.requeueWaiters(ctx)
		return
	case *actor.Stopping:
		s.stopIdleTimer()
		for _, f := range s.flights {
			f.end()
		}
		return
	case *actor.Stopped:
		s.act.MarkDone()
		return
	default:
		return
	}
	s.passivateIfIdle(ctx)
}

// passivateIfIdle tells the router once, after env.PassivateAfter, that
// this actor has no load in flight, so that it can be stopped: an idle
// actor costs memory for nothing, but one that is stopped and started again
// for every invalidate-and-reload costs time. The report carries the
// actor's load count, so the router ignores it if a load started since.
// Whatever arrives meanwhile is handled normally; if the router stops the
// actor with requests still queued, their callers see the activation end
// and route them again.
func (s *slot) passivateIfIdle(ctx actor.Context) {
	if len(s.flights) != 0 || s.idleSent {
		return
	}
	s.idleSent = true
	idle := &messages.Idle{Activation: s.act, Loads: s.act.Loads.Load()}
	if d := s.env.PassivateAfter; d > 0 {
		root, router := s.env.Root, ctx.Parent()
		s.idleTimer = time.AfterFunc(d, func() { root.Send(router, idle) })
		return
	}
	ctx.Send(ctx.Parent(), idle)
}

func (s *slot) stopIdleTimer() {
	if s.idleTimer != nil {
		s.idleTimer.Stop()
		s.idleTimer = nil
	}
}

func (s *slot) get(ctx actor.Context, m *messages.Get) {
	s.h.LastLoad = m.Load
	if e, late := s.env.Lookup(s.h); e != nil {
		reply(m, messages.Result{Value: e.Value})
		if late {
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
	if f := s.current; f != nil && f.gen == gen && f.epoch == epoch {
		return f, true
	}
	return s.start(ctx, caller, s.h.LastLoad, gen, epoch), false
}

// reload starts a background load nobody waits for (refresh-ahead,
// stale-while-revalidate, reload on invalidation), unless one is running.
// It needs a loader from an earlier Get.
func (s *slot) reload(ctx actor.Context) {
	if s.h.LastLoad != nil {
		if _, joined := s.flight(ctx, nil); !joined {
			s.env.Stats.Refreshes.Add(1)
		}
	}
}

// start launches a load for the slot's current generation and epoch. The
// loader's context carries the values of the caller that started it
// (caller, nil for a background reload), not those of callers that join
// later, and not the caller's cancellation: the load serves every waiter.
// It is cancelled at Close and after the load timeout; the timeout also
// answers the waiters, even if the loader ignores its context.
func (s *slot) start(ctx actor.Context, caller context.Context, load messages.Loader, gen, epoch uint64) *flight {
	s.h.NextFlight++
	f := &flight{id: s.h.NextFlight, gen: gen, epoch: epoch}
	lctx, cancel := loadContext(s.env, caller)
	root, self, id := s.env.Root, ctx.Self(), f.id
	f.cancel = cancel
	f.stopWatch = context.AfterFunc(lctx, func() {
		root.Send(self, &messages.LoadTimedOut{Flight: id, Cause: context.Cause(lctx)})
	})
	s.flights[f.id] = f
	s.current = f
	s.idleSent = false
	s.stopIdleTimer()
	s.act.Loads.Add(1)
	s.env.Stats.Loads.Add(1)
	s.env.LoaderStarted()
	go runLoader(lctx, s.env, self, f.id, s.h.ID, load)
	return f
}

// loadContext returns the context of a load started by caller: its values
// without its cancellation, ended by the load timeout or by Close.
func loadContext(env *core.Env, caller context.Context) (context.Context, context.CancelFunc) {
	if caller == nil {
		caller = context.Background()
	}
	lctx, cancel := context.WithTimeout(context.WithoutCancel(caller), env.LoadTimeout)
	stop := context.AfterFunc(env.Ctx, cancel)
	return lctx, func() {
		stop()
		cancel()
	}
}

// finish removes f from the slot's flights.
func (s *slot) finish(f *flight) {
	f.end()
	delete(s.flights, f.id)
	if s.current == f {
		s.current = nil
	}
}

func (s *slot) loadDone(ctx actor.Context, m *messages.LoadDone) {
	f := s.flights[m.Flight]
	if f == nil {
		return // timed out already, or started by a previous incarnation
	}
	s.finish(f)
	if m.Err != nil {
		s.env.Stats.LoadErrors.Add(1)
		s.failed(f, m.Err)
		answer(f, messages.Result{Err: m.Err})
		if m.Panic != nil {
			s.env.Stats.LoaderPanics.Add(1)
			// protoactor reports the failure only at Info, which callers'
			// loggers usually drop: a loader bug deserves an error.
			s.env.Logger.Error("slotcache: loader panicked; restarting the slot", "slot", s.h.ID, "panic", m.Panic)
			// Fail like the loader did, so the supervisor restarts the slot
			// from a clean state; the waiters already have their error.
			panic(fmt.Sprintf("slotcache: loader of slot %q panicked: %v", s.h.ID, m.Panic))
		}
		return
	}
	if f.gen == s.h.Gen() && f.epoch == s.env.Epoch() {
		t := core.Timing{TTL: s.env.TTL()}
		if m.TTL > 0 {
			t.TTL = m.TTL
		}
		t = s.h.Policy.Loaded(s.h.ID, m.Value, t)
		s.cache(core.EntryFor(m.Value, f.gen, f.epoch, s.env.Clock.Now(), t))
	}
	// Waiters asked before any invalidation that overtook the load, so the
	// value answers them even when it is not cached.
	answer(f, messages.Result{Value: m.Value})
}

func (s *slot) loadTimedOut(m *messages.LoadTimedOut) {
	f := s.flights[m.Flight]
	if f == nil {
		return
	}
	s.finish(f)
	s.env.Stats.LoadErrors.Add(1)
	s.failed(f, m.Cause)
	var err error
	if s.env.Ctx.Err() != nil {
		err = fmt.Errorf("slotcache: load of slot %q: %w", s.h.ID, core.ErrClosed)
	} else {
		s.env.Stats.LoadTimeouts.Add(1)
		err = fmt.Errorf("%w: slot %q after %v: %w", core.ErrLoadTimeout, s.h.ID, s.env.LoadTimeout, m.Cause)
	}
	answer(f, messages.Result{Err: err})
}

// cache publishes e, or drops the current entry when e is nil (the
// behaviour chose not to cache). A slot that had no entry must first be
// admitted within the engine's slot limit, if it has one.
func (s *slot) cache(e *core.Entry) {
	old := s.h.Entry()
	switch {
	case e == nil:
		s.env.Stats.Uncached.Add(1)
		s.env.Drop(s.h, old, core.ReasonExpired)
	case old == nil && s.env.Bound != nil:
		if s.env.Reserve(s.h) {
			s.env.Publish(s.h, e, true)
		}
	default:
		s.env.Publish(s.h, e, false)
	}
}

// failed lets the policy decide whether the last value may still be served
// after a load of flight f failed with err. If it may, a later hit can ask
// for another reload; if not, the value is served at most until its
// deadline, never stale.
func (s *slot) failed(f *flight, err error) {
	e, _ := s.env.Lookup(s.h)
	if e == nil || e.Gen != f.gen || e.Epoch != f.epoch {
		return
	}
	if s.h.Policy.Failed(s.h.ID, err) {
		e.RefreshFailed()
		return
	}
	if e.StaleUntil > e.Deadline {
		s.env.Publish(s.h, &core.Entry{Value: e.Value, Gen: e.Gen, Epoch: e.Epoch, Soft: e.Soft, Deadline: e.Deadline, StaleUntil: e.Deadline}, false)
	}
}

// requeueWaiters hands the waiters of unfinished flights to the next
// incarnation: the mailbox survives the restart, so their requests are
// simply sent again and start a fresh load. Their old loads' results will
// be ignored.
func (s *slot) requeueWaiters(ctx actor.Context) {
	for _, f := range s.flights {
		f.end()
		for _, w := range f.waiters {
			ctx.Send(ctx.Self(), w)
		}
	}
	s.flights, s.current = nil, nil
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
