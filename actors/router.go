package actors

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/slotcache/slotcache/internal/core"
	"github.com/slotcache/slotcache/messages"
)

// router is the only writer of the directory (slot ID → handle). It spawns
// each slot on first touch as its supervised child and forgets slots that
// stopped. It must never fail: its restart would stop every slot.
type router struct {
	env   *core.Env
	dir   *core.Directory
	byPID map[string]*core.Handle // child PID ID → handle
}

// RouterProps returns the props of the router actor for env, publishing
// handles into dir.
func RouterProps(env *core.Env, dir *core.Directory) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor {
		return &router{env: env, dir: dir, byPID: make(map[string]*core.Handle)}
	}, actor.WithSupervisor(restartAlways{logger: env.Logger}))
}

// Receive implements actor.Actor.
func (r *router) Receive(ctx actor.Context) {
	defer func() {
		if p := recover(); p != nil {
			r.env.Logger.Error("slotcache: router recovered from a panic", "panic", p)
		}
	}()
	switch m := ctx.Message().(type) {
	case *messages.EnsureSlot:
		m.Reply <- r.ensure(ctx, m.ID)
	case *messages.InvalidateAll:
		for _, h := range r.byPID {
			ctx.Send(h.PID, m)
		}
	case *actor.Terminated:
		if h, ok := r.byPID[m.Who.Id]; ok {
			delete(r.byPID, m.Who.Id)
			r.dir.CompareAndDelete(h)
			h.MarkDone()
		}
	}
}

// ensure returns the live handle of slot id, spawning a slot actor when
// there is none or when the one in the directory has stopped.
func (r *router) ensure(ctx actor.Context, id string) *core.Handle {
	if h, ok := r.dir.Load(id); ok && !h.Stopped() {
		return h
	}
	h := core.NewHandle(id)
	h.Policy = guarded{policy: r.env.PolicyFor(id), logger: r.env.Logger}
	h.PID = ctx.Spawn(slotProps(r.env, h))
	r.byPID[h.PID.Id] = h
	r.dir.Store(h)
	return h
}
