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
// sweeps go round the whole directory. walkBuckets is how many directory
// buckets one step of an InvalidateAll covers, so that other requests are
// served between steps.
const (
	sweepEvery  = 100 * time.Millisecond
	sweepRounds = 50
	walkBuckets = 1024
)

// router is the only writer of the directory (slot ID → handle) and the
// only one that binds actors to slots (see lifecycle.go). It handles what
// concerns slots without an actor: creating a slot on its first Get,
// binding an actor when a request needs one, invalidating a slot with no
// actor without starting one, and sweeping expired entries. It must never
// fail: its restart would stop every slot.
type router struct {
	env       *core.Env
	dir       *core.DirWriter
	workers   *Workers
	idle      *idleQueue   // slot actors waiting to passivate
	deadlines *deadlines   // loads in flight, for their timeout
	pool      []*actor.PID // idle slot actors, ready for a binding
	poolLow   int          // the pool's smallest size since the last shrink
	sweeps    int
	sweepAt   uint64
	stop      chan struct{}
	wg        sync.WaitGroup
	stopping  bool // Close: bind nothing more (see refuse)
}

// sweep asks the router to free a share of the expired and invalidated
// entries that no actor is watching.
type sweep struct{}

// invalidateWalk is one step of an InvalidateAll over the directory.
type invalidateWalk struct {
	at   uint64 // next bucket
	left int    // buckets still to visit
}

// RouterProps returns the props of an engine's router actor, the one
// writer of its directory. It and its slot actors run on their senders'
// goroutines (callerMailbox); loads, and router messages past a sender's
// budget, run on w.
func RouterProps(env *core.Env, dir *core.DirWriter, w *Workers) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return newRouter(env, dir, w) },
		actor.WithSupervisor(restartAlways{logger: env.Logger}), actor.WithMailbox(routerMailbox(w)))
}

func newRouter(env *core.Env, dir *core.DirWriter, w *Workers) *router {
	return &router{env: env, dir: dir, workers: w, idle: newIdleQueue(env, w), deadlines: newDeadlines()}
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
		if r.stopping {
			r.refuse(m)
			return
		}
		r.route(ctx, m)
	case *released:
		r.released(ctx, m)
	case *messages.InvalidateAll:
		if !r.stopping {
			r.walk(ctx, &invalidateWalk{left: r.dir.Directory().Buckets()})
		}
	case *invalidateWalk:
		if !r.stopping {
			r.walk(ctx, m)
		}
	case *sweep:
		r.sweep()
		r.shrinkPool(ctx)
	case *actor.Started:
		r.startSweeping(ctx)
	case *actor.Stopping:
		r.stopping = true
		r.stopSweeping()
		r.deadlines.stop()
	}
}

// refuse answers a request that reached the router once it was stopping.
// protoactor still delivers user messages while a stopping actor waits
// for its children, and a slot actor busy on another goroutine makes that
// wait last: a request from a caller that raced Close, or the next step
// of an InvalidateAll walk, arrives then. Binding an actor for it would
// spawn a child after the children were told to stop; nothing would stop
// that one, the router would never terminate, and Close would wait for
// the poison's 10 s timeout with the child's load running on
// (TestRouterStoppingBindsNoActor). The engine is closing: a Get gets
// ErrClosed and a Set caches nothing (their callers see the engine's
// context end anyway, but need not wait for it).
func (r *router) refuse(m *messages.Route) {
	switch m := m.Msg.(type) {
	case *messages.Get:
		reply(m, messages.Result{Err: core.ErrClosed})
	case *Set:
		m.Done <- false
	}
}

// route delivers m.Msg to the slot's actor, creating the slot for a Get
// and binding an actor as needed. Other messages for a slot that does not
// exist have nothing to act on.
func (r *router) route(ctx actor.Context, m *messages.Route) {
	h, ok := r.dir.Directory().Load(m.ID)
	switch m.Msg.(type) {
	case *messages.Get, *Set:
		if !ok {
			h = core.NewHandle(m.ID, r.env.PolicyFor(m.ID))
			r.dir.Store(h)
		}
	case *messages.Invalidate:
		if !ok {
			return
		}
		if b := h.Enter(); b != nil {
			ctx.Send(b.PID, m.Msg)
			return
		}
		r.invalidateUnbound(ctx, h)
		return
	default:
		if !ok {
			return
		}
	}
	if b := h.Enter(); b != nil {
		ctx.Send(b.PID, m.Msg)
		return
	}
	r.bind(ctx, h, m.Msg)
}

// invalidateUnbound handles the invalidation of a slot without an actor
// without starting one just to free its entry: the router, its owner
// while it has no actor, frees the entry and runs the behaviour's
// OnInvalidate, binding an actor only to reload.
func (r *router) invalidateUnbound(ctx actor.Context, h *core.Handle) {
	if h.Entry() == nil {
		r.forgetIfEmpty(h)
		return
	}
	r.env.Reclaim(h)
	if h.Policy.Invalidated(h.ID) && h.Owned.LastLoad != nil {
		r.bind(ctx, h, &reloadNow{})
		return
	}
	r.forgetIfEmpty(h)
}

// walk tells every slot, a share of the directory at a time, that the
// epoch was bumped: slots with an actor get the message; the others, if
// they hold an entry, are invalidated here (see invalidateUnbound), so
// every slot's behaviour runs, whether its actor is alive or not.
func (r *router) walk(ctx actor.Context, w *invalidateWalk) {
	n := min(w.left, walkBuckets)
	w.at = r.dir.Directory().Walk(w.at, n, func(h *core.Handle) bool {
		if b := h.Enter(); b != nil {
			ctx.Send(b.PID, &messages.InvalidateAll{})
		} else if h.Entry() != nil {
			r.invalidateUnbound(ctx, h)
		}
		return true
	})
	if w.left -= n; w.left > 0 {
		ctx.Send(ctx.Self(), w)
	}
}

// sweep frees, in a share of the directory, the entries that can no longer
// be served (expired or invalidated) of slots without an actor, and forgets
// those slots. Readers already treat such entries as absent; this only
// returns their memory.
func (r *router) sweep() {
	d := r.dir.Directory()
	n := max(1024, d.Buckets()/sweepRounds)
	r.sweepAt = d.Walk(r.sweepAt, n, func(h *core.Handle) bool {
		if h.Bound() {
			return true
		}
		r.env.Reclaim(h)
		r.forgetIfEmpty(h)
		return true
	})
}

// startSweeping starts the router's one background goroutine: it asks for
// a sweep every sweepEvery, and tells idle slot actors when their
// PassivateAfter is over. It sends nothing itself but has workers send:
// a send may run the router on the sender's goroutine (callerMailbox), and
// a router stopped there would wait in stopSweeping for its own goroutine
// (TestRouterStopsWhileTheGoroutineThatTicksRunsIt).
func (r *router) startSweeping(ctx actor.Context) {
	r.stop = make(chan struct{})
	root, self, q := r.env.Root, ctx.Self(), r.idle
	askSweep := funcTask(func() { root.Send(self, &sweep{}) })
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		t := time.NewTicker(sweepEvery)
		defer t.Stop()
		idle := time.NewTimer(time.Hour)
		idle.Stop()
		defer idle.Stop()
		for {
			select {
			case <-r.stop:
				return
			case <-t.C:
				r.workers.run(askSweep)
			case <-q.wake:
				q.next(idle)
			case <-idle.C:
				q.next(idle)
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
