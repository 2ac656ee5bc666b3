package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/slotcache/slotcache/internal/core"
)

// A slot's lifecycle, every transition of it in this file.
//
//	            bind (router: a request for a slot without an actor)
//	 unbound ─────────────────────────────────────────────► active
//	    ▲                                                   │   ▲
//	    │ released (router forgets the                start │   │ last load ends
//	    │ binding, and the slot if empty)             load  ▼   │
//	    │                                                 loading
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
// fails while a request is on its way to it) and stops; from that moment
// senders go to the router, which binds a new actor on the next request.
//
// A panic in the actor (a loader's panic is re-raised there) restarts it
// under the router's supervision with the same binding: requests in its
// mailbox survive, the waiters of its loads are sent again, and the new
// incarnation passivates like any other once idle.

// bind gives h a new actor, with one request admitted: the one the caller
// of bind sends next. Router only, for a slot whose binding is absent or
// released.
func (r *router) bind(ctx actor.Context, h *core.Handle) *core.Binding {
	b := core.NewBinding()
	b.PID = ctx.Spawn(slotProps(r.env, h, b))
	h.Bind(b)
	r.env.Stats.Actors.Add(1)
	return b
}

// released is the end of a binding, reported by its actor to the router.
type released struct {
	h *core.Handle
	b *core.Binding
}

// unbound forgets the binding of an actor that gave its slot up, and the
// slot itself if it holds nothing. The slot may already have a new actor.
func (r *router) released(m *released) {
	r.env.Stats.Actors.Add(-1)
	m.h.Unbind(m.b)
	r.forgetIfEmpty(m.h)
}

// forgetIfEmpty removes a slot with no actor and no entry from the
// directory, so that slots cost nothing once they hold nothing.
func (r *router) forgetIfEmpty(h *core.Handle) {
	if h.Entry() == nil && !h.Bound() {
		r.dir.CompareAndDelete(h)
	}
}

// idleTick is the timer message that ends an actor's idle wait. Each
// incarnation has its own, so a tick armed before a restart is ignored; it
// is not zero-sized, so that two ticks never share an address.
type idleTick struct{ _ byte }

// lifecycle is the slot actor's side of its lifecycle: the idle timer that
// leads from active to passivating.
type lifecycle struct {
	tick  *idleTick
	timer *time.Timer
}

// idle is called after every message: an actor with no load in flight
// gives its slot up at once (PassivateAfter 0) or after PassivateAfter of
// idleness, so that an idle slot costs no actor, while a slot that is
// invalidated and reloaded often keeps its actor.
func (s *slot) idle(ctx actor.Context) {
	if len(s.flights) != 0 {
		return
	}
	d := s.env.PassivateAfter
	if d <= 0 {
		s.passivate(ctx)
		return
	}
	if s.life.timer != nil {
		s.life.timer.Reset(d)
		return
	}
	s.life.tick = &idleTick{}
	root, self, tick := s.env.Root, ctx.Self(), s.life.tick
	s.life.timer = time.AfterFunc(d, func() { root.Send(self, tick) })
}

// ticked handles the end of an idle wait.
func (s *slot) ticked(ctx actor.Context, t *idleTick) {
	if t == s.life.tick && len(s.flights) == 0 {
		s.passivate(ctx)
	}
}

// passivate gives the slot up if no request is on its way, and stops. If
// one is, the actor stays: handling it calls idle again.
func (s *slot) passivate(ctx actor.Context) {
	if !s.b.Release() {
		return
	}
	s.stopTimer()
	s.env.Stats.Passivations.Add(1)
	ctx.Send(ctx.Parent(), &released{h: s.h, b: s.b})
	ctx.Stop(ctx.Self())
}

// restarting hands the waiters of unfinished loads to the next
// incarnation: the mailbox survives the restart, so their requests are
// admitted and sent again and start a fresh load; the old loads' results
// will be ignored. The binding holds (an actor with loads cannot have
// released it), so admitting them cannot fail.
func (s *slot) restarting(ctx actor.Context) {
	s.env.Stats.SlotRestarts.Add(1)
	s.stopTimer()
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
	s.stopTimer()
	for _, f := range s.flights {
		f.end()
	}
}

func (s *slot) stopTimer() {
	if s.life.timer != nil {
		s.life.timer.Stop()
		s.life.timer, s.life.tick = nil, nil
	}
}
