package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/slotcache/slotcache/internal/core"
)

// A slot's lifecycle, every transition of it in this file.
//
//	            bind (router: a request for a slot without an actor;
//	            a pooled actor if there is one, else a new one)
//	 unbound ─────────────────────────────────────────────► active
//	    ▲                                                   │   ▲
//	    │ released (router forgets the                start │   │ last load ends
//	    │ binding, and the slot if empty;             load  ▼   │
//	    │ the actor goes back to the pool)                loading
//	    │
//	    └──── passivating: active and idle for PassivateAfter, and
//	          core.Binding.Release finds no request on its way
//
// unbound: no actor. The entry, if any, stays in the handle and hits go on
// being served from it; the router owns the slot's Owned state, answers an
// invalidation itself (frees the entry, runs OnInvalidate) and sweeps the
// entry once it expires.
//
// active: one actor is bound (core.Binding). Every request is admitted by
// the binding before it is sent, straight from the caller or through the
// router, so none can reach an actor that will not process it.
//
// loading: the actor has loads in flight. It cannot give the slot up.
//
// passivating: the actor found itself idle, released the binding (which
// fails while a request is on its way to it) and reports it; from that
// moment senders go to the router, which binds an actor on the next
// request.
//
// Actors are pooled, not spawned per activation: a spawn, and the stop
// that follows a passivation, cost ~10 µs and 25 allocations, a miss's
// whole budget. A released actor waits in the router's pool for its next
// binding (an idle actor holds no goroutine, ~1 KB); the pool shrinks by
// half every second that it was not drawn below that half, so an idle
// engine ends with none.
//
// A panic in the actor (a loader's panic is re-raised there) restarts it
// under the router's supervision with the same binding: requests in its
// mailbox survive, the waiters of its loads are sent again, and the new
// incarnation passivates like any other once idle.

// Pool bounds: at most maxPool idle actors are kept; every shrinkEvery
// sweeps, the pool gives up half of the actors it did not need.
const (
	maxPool     = 4096
	shrinkEvery = 10 // sweeps, that is one second
)

// bind gives h an actor and delivers first to it, the one request the
// binding admits from the start. Router only, for a slot whose binding is
// absent or released. A pooled actor learns its slot from the binding,
// which carries first.
func (r *router) bind(ctx actor.Context, h *core.Handle, first any) {
	b := core.NewBinding(h)
	r.env.Stats.Actors.Add(1)
	if n := len(r.pool); n > 0 {
		b.PID = r.pool[n-1]
		r.pool[n-1] = nil
		r.pool = r.pool[:n-1]
		r.poolLow = min(r.poolLow, n-1)
		// The binding reaches the actor before the handle names it, so that
		// no sender's request can arrive first. The actor may have handled
		// the request and released the slot before Bind: its report, queued
		// behind this message, unbinds it.
		b.First = first
		ctx.Send(b.PID, b)
		h.Bind(b)
		return
	}
	b.PID = ctx.Spawn(slotProps(r.env, b, r))
	h.Bind(b)
	ctx.Send(b.PID, first)
}

// released is the end of a binding, reported by its actor to the router:
// the binding itself, under a type of its own so that the report
// allocates nothing.
type released core.Binding

// released forgets the binding of an actor that gave its slot up, and the
// slot itself if it holds nothing, and pools the actor. The slot may
// already have a new actor.
func (r *router) released(ctx actor.Context, m *released) {
	b := (*core.Binding)(m)
	r.env.Stats.Actors.Add(-1)
	b.H.Unbind(b)
	r.forgetIfEmpty(b.H)
	if len(r.pool) < maxPool {
		r.pool = append(r.pool, b.PID)
		return
	}
	ctx.Stop(b.PID)
}

// shrinkPool stops half of the pooled actors that were not needed since
// the last shrink.
func (r *router) shrinkPool(ctx actor.Context) {
	if r.sweeps++; r.sweeps%shrinkEvery != 0 {
		return
	}
	n := (r.poolLow + 1) / 2
	for _, pid := range r.pool[:n] {
		ctx.Stop(pid)
	}
	r.pool = append(r.pool[:0], r.pool[n:]...)
	if len(r.pool) == 0 {
		r.pool = nil // let a burst's backing array go
	}
	r.poolLow = len(r.pool)
}

// forgetIfEmpty removes a slot with no actor and no entry from the
// directory, so that slots cost nothing once they hold nothing.
func (r *router) forgetIfEmpty(h *core.Handle) {
	if h.Entry() == nil && !h.Bound() {
		r.dir.CompareAndDelete(h)
	}
}

// idleTick is the message that ends an actor's idle wait (see idleQueue).
// A tick only asks the actor to check: one that finds it busy, or idle for
// less than PassivateAfter, is ignored or queues the actor again.
type idleTick struct{ _ byte }

// tick is the one idleTick: ticks carry nothing, so they allocate nothing.
var tick = &idleTick{}

// lifecycle is the slot actor's side of its lifecycle: the binding it
// serves and its idle wait, which leads from active to passivating, both
// kept in a cell that survives restarts.
type lifecycle struct {
	*cell
}

// cell is what a slot actor keeps across incarnations. h and b are nil
// while the actor waits in the pool.
type cell struct {
	h         *core.Handle
	b         *core.Binding
	idleQ     *idleQueue // the router's
	run       *Workers   // runs the slot's loads
	deadlines *deadlines // the router's: times the slot's loads out
	queued    bool       // in idleQ, or its tick is on its way
	idleSince int64      // clock time the actor last became idle
}

// take starts serving binding b: a pooled actor's unbound → active.
// It returns the request the binding carries, to be handled next.
func (s *slot) take(b *core.Binding) (first any) {
	s.h, s.b = b.H, b
	first, b.First = b.First, nil
	return first
}

// idle is called after every message of a bound actor: with no load in
// flight it gives its slot up at once (PassivateAfter 0) or once it has
// been idle for PassivateAfter, so that an idle slot costs no actor, while
// a slot that is invalidated and reloaded often keeps its actor.
func (s *slot) idle(ctx actor.Context) {
	if s.b == nil || len(s.flights) != 0 {
		return
	}
	if s.env.PassivateAfter <= 0 {
		s.passivate(ctx)
		return
	}
	s.idleSince = s.env.Clock.Now()
	if !s.queued { // a queued actor's tick will see the new idleSince
		s.queued = true
		s.idleQ.push(ctx.Self(), s.idleSince)
	}
}

// ticked ends an idle wait that has lasted PassivateAfter, or waits again.
func (s *slot) ticked(ctx actor.Context) {
	s.queued = false
	if s.b == nil || len(s.flights) != 0 {
		return
	}
	if time.Duration(s.env.Clock.Now()-s.idleSince) < s.env.PassivateAfter {
		s.queued = true
		s.idleQ.push(ctx.Self(), s.idleSince)
		return
	}
	s.passivate(ctx)
}

// passivate gives the slot up if no request is on its way, tells the
// router and waits, unbound, for the next binding. If a request is on its
// way, the actor stays: handling it calls idle again.
func (s *slot) passivate(ctx actor.Context) {
	if !s.b.Release() {
		return
	}
	s.env.Stats.Passivations.Add(1)
	ctx.Send(ctx.Parent(), (*released)(s.b))
	s.h, s.b, s.current = nil, nil, nil
}

// restarting hands the waiters of unfinished loads to the next
// incarnation: the mailbox survives the restart, so their requests are
// admitted and sent again and start a fresh load; the old loads' results
// will be ignored. The binding holds (an actor with loads cannot have
// released it), so admitting them cannot fail.
func (s *slot) restarting(ctx actor.Context) {
	s.env.Stats.SlotRestarts.Add(1)
	for _, f := range s.flights {
		f.end()
		for _, w := range f.waiters {
			if s.b.Enter() {
				ctx.Send(ctx.Self(), w)
			}
		}
	}
	s.flights, s.current = nil, nil
}

// stopping ends the loads of an actor stopped from outside (Close): their
// contexts are cancelled and their waiters see the engine closing.
func (s *slot) stopping() {
	for _, f := range s.flights {
		f.end()
	}
}
