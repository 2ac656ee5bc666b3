package actors

import (
	"fmt"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/slotcache/slotcache/internal/core"
	"github.com/slotcache/slotcache/messages"
)

// sweepEvery is how often the router frees a share of the entries that are
// no longer servable and that no actor watches; sweepRounds is how many
// sweeps go round the whole directory.
const (
	sweepEvery  = 100 * time.Millisecond
	sweepRounds = 50
)

// router is the only writer of the directory (slot ID → handle) and the
// only one that starts and stops slot actors. It spawns a slot's actor on
// demand as its supervised child, stops it when it reports idle, and
// delivers routed messages only to an actor that is not stopping, queueing
// them until the next one starts: that is what makes passivation safe. It
// also sweeps expired entries of slots without actors. It must never fail:
// its restart would stop every slot.
type router struct {
	env      *core.Env
	dir      *core.Directory
	byPID    map[string]*active // child PID ID → its slot
	byHandle map[*core.Handle]*active
	sweepAt  uint64
	stop     chan struct{}
	wg       sync.WaitGroup
}

var passivate = &messages.Passivate{}

// active is a slot whose actor is running or stopping.
type active struct {
	h        *core.Handle
	act      *core.Activation
	stopping bool
	pending  []any // routed while stopping; delivered to the next actor
}

// RouterProps returns the props of the router actor for env, publishing
// handles into dir.
func RouterProps(env *core.Env, dir *core.Directory) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor {
		return &router{
			env:      env,
			dir:      dir,
			byPID:    make(map[string]*active),
			byHandle: make(map[*core.Handle]*active),
		}
	}, actor.WithSupervisor(restartAlways{logger: env.Logger}))
}

// Receive implements actor.Actor.
func (r *router) Receive(ctx actor.Context) {
	defer func() {
		if p := recover(); p != nil {
			r.env.Logger.Error("slotcache: router recovered from a panic", "panic", p)
			// A request must not be lost silently: its caller would wait
			// for nothing.
			if m, ok := ctx.Message().(*messages.Route); ok {
				if g, ok := m.Msg.(*messages.Get); ok {
					reply(g, messages.Result{Err: fmt.Errorf("slotcache: routing slot %q: internal error: %v", m.ID, p)})
				}
			}
		}
	}()
	switch m := ctx.Message().(type) {
	case *messages.Route:
		r.route(ctx, m)
	case *messages.Idle:
		// Passivation is a handshake: from here on, requests for the slot
		// wait in pending, and the actor stops only if it is still idle when
		// Passivate reaches it, after everything routed to it before.
		if a := r.byPID[m.Activation.PID.Id]; a != nil && a.act == m.Activation && !a.stopping && a.act.Loads.Load() == m.Loads {
			a.stopping = true
			ctx.Send(a.act.PID, passivate)
		}
	case *messages.Busy:
		if a := r.byPID[m.Activation.PID.Id]; a != nil && a.act == m.Activation && a.stopping {
			a.stopping = false
			for _, msg := range a.pending {
				ctx.Send(a.act.PID, msg)
			}
			a.pending = nil
		}
	case *messages.InvalidateAll:
		for _, a := range r.byHandle {
			if !a.stopping {
				ctx.Send(a.act.PID, m)
			}
		}
	case *messages.Sweep:
		r.sweep()
	case *actor.Terminated:
		r.terminated(ctx, m.Who)
	case *actor.Started:
		r.startSweeping(ctx)
	case *actor.Stopping:
		r.stopSweeping()
	}
}

// route delivers m.Msg to the slot's actor, creating the slot for a Get
// and spawning an actor as needed. Other messages for a slot that does not
// exist have nothing to act on.
func (r *router) route(ctx actor.Context, m *messages.Route) {
	h, ok := r.dir.Load(m.ID)
	if !ok {
		if _, get := m.Msg.(*messages.Get); !get {
			return
		}
		h = core.NewHandle(m.ID)
		h.Policy = r.env.PolicyFor(m.ID)
		r.dir.Store(h)
	}
	a := r.byHandle[h]
	switch {
	case a == nil:
		a = r.spawn(ctx, h)
	case a.stopping:
		a.pending = append(a.pending, m.Msg)
		return
	}
	ctx.Send(a.act.PID, m.Msg)
}

func (r *router) spawn(ctx actor.Context, h *core.Handle) *active {
	act := core.NewActivation()
	act.PID = ctx.Spawn(slotProps(r.env, h, act))
	h.SetActivation(act)
	a := &active{h: h, act: act}
	r.byPID[act.PID.Id] = a
	r.byHandle[h] = a
	return a
}

// terminated forgets a stopped actor. Messages routed while it stopped go
// to a new actor; a slot left with no entry and no actor is forgotten.
func (r *router) terminated(ctx actor.Context, who *actor.PID) {
	a := r.byPID[who.Id]
	if a == nil {
		return
	}
	delete(r.byPID, who.Id)
	delete(r.byHandle, a.h)
	a.h.ClearActivation(a.act)
	a.act.MarkDone()
	if len(a.pending) > 0 {
		next := r.spawn(ctx, a.h)
		for _, msg := range a.pending {
			ctx.Send(next.act.PID, msg)
		}
		return
	}
	r.forgetIfEmpty(a.h)
}

// forgetIfEmpty removes a slot without entry from the directory, so that
// slots cost nothing once they hold nothing.
func (r *router) forgetIfEmpty(h *core.Handle) {
	if h.Entry() == nil {
		r.dir.CompareAndDelete(h)
	}
}

// sweep frees, in a share of the directory, the entries that can no longer
// be served (expired or invalidated) of slots without an actor, and forgets
// those slots. Readers already treat such entries as absent; this only
// returns their memory.
func (r *router) sweep() {
	if len(r.byPID) == 0 {
		// Go maps keep their peak size; after a burst of activity, start
		// afresh so that idle slots cost nothing here.
		r.byPID = make(map[string]*active)
		r.byHandle = make(map[*core.Handle]*active)
	}
	n := max(1024, r.dir.Buckets()/sweepRounds)
	r.sweepAt = r.dir.Walk(r.sweepAt, n, func(h *core.Handle) bool {
		if r.byHandle[h] != nil {
			return true
		}
		r.env.Reclaim(h)
		r.forgetIfEmpty(h)
		return true
	})
}

func (r *router) startSweeping(ctx actor.Context) {
	r.stop = make(chan struct{})
	root, self := r.env.Root, ctx.Self()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		t := time.NewTicker(sweepEvery)
		defer t.Stop()
		for {
			select {
			case <-r.stop:
				return
			case <-t.C:
				root.Send(self, &messages.Sweep{})
			}
		}
	}()
}

func (r *router) stopSweeping() {
	if r.stop != nil {
		close(r.stop)
		r.wg.Wait()
		r.stop = nil
	}
}
