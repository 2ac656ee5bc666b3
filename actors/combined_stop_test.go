package actors

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/internal/core"
	"github.com/slotcache/slotcache/messages"
)

// heldLoadPolicy holds the actor of slot "busy" in its OnLoad until the
// test releases it: that actor's mailbox is then busy on the loader's
// goroutine, so a Stop sent to it waits there.
type heldLoadPolicy struct {
	*countingPolicy
	entered, release chan struct{}
}

func (p heldLoadPolicy) Loaded(id string, v any, t core.Timing) core.Timing {
	if id == "busy" {
		close(p.entered)
		<-p.release
	}
	return p.countingPolicy.Loaded(id, v, t)
}

// Close stops the router, which stops its slot actors and waits for each
// to end. One is busy on another goroutine (here held in a behaviour hook;
// in production, any slot actor running a load's result or a Get at that
// moment), so the router stays in Stopping for a while, and protoactor
// still hands it user messages then: a Get from a caller that raced Close,
// the next step of an InvalidateAll walk. If the router binds an actor to
// such a request, it spawns a child after it stopped its children: nothing
// ever stops that child, the router never terminates, and Close waited
// until the poison's future timed out (10 s, "stopping the router: future:
// timeout"), its load running on uncancelled. Seen racing Close against
// cold misses (TestCombinedCloseRacingColdMisses); made deterministic
// here.
func TestRouterStoppingBindsNoActor(t *testing.T) {
	r := newRig(t, time.Hour)
	pid, stopped, release := stoppingRouter(r)
	var calls atomic.Int32
	cold, reply := get(func(ctx context.Context, _ string) (any, error) {
		calls.Add(1)
		select {
		case <-ctx.Done():
		case <-r.ended:
		}
		return nil, ctx.Err()
	})
	r.env.Root.Send(pid, &messages.Route{ID: "cold", Msg: cold}) // a caller that raced Close
	done := make(chan bool, 1)
	r.env.Root.Send(pid, &messages.Route{ID: "set", Msg: &Set{Value: 1, Done: done}}) // a Set too
	release()
	_, err := stopped.Result()
	require.NoError(t, err, "the router never stopped: it bound an actor while stopping")
	require.Zero(t, calls.Load(), "a load started on a stopping router")
	select {
	case res := <-reply:
		require.ErrorIs(t, res.Err, core.ErrClosed)
	default:
		t.Fatal("the Get that reached a stopping router was not answered")
	}
	select {
	case cached := <-done:
		require.False(t, cached, "a Set cached on a stopping router")
	default:
		t.Fatal("the Set that reached a stopping router was not answered")
	}
}

// stoppingRouter spawns a router of r, has it stop while the actor of slot
// "busy" is held on a loader's goroutine, and returns it in Stopping: user
// messages sent to it now reach it before it ends. release lets busy's
// actor, and so the router, end.
func stoppingRouter(r *rig) (pid *actor.PID, stopped *actor.Future, release func()) {
	pid = r.env.Root.Spawn(RouterProps(r.env, r.dir, r.workers))
	p := heldLoadPolicy{countingPolicy: r.policy, entered: make(chan struct{}), release: make(chan struct{})}
	r.dir.Store(core.NewHandle("busy", p))
	// The load returns only once the Send below has returned, so that its
	// result runs busy's actor, and the hook, on the loader's goroutine.
	sent := make(chan struct{})
	busy, _ := get(func(context.Context, string) (any, error) { <-sent; return "v", nil })
	r.env.Root.Send(pid, &messages.Route{ID: "busy", Msg: busy})
	close(sent)
	<-p.entered
	stopped = r.env.Root.PoisonFuture(pid) // Stopping: waits for busy's actor
	return pid, stopped, func() { close(p.release) }
}

// An InvalidateAll that reaches a stopping router walks nothing: an
// unbound slot whose policy reloads on invalidation would otherwise get an
// actor bound for the reload, spawned after the router stopped its
// children, and Close would wait for the poison's 10 s timeout with that
// reload running (as TestRouterStoppingBindsNoActor, for a walk).
func TestRouterStoppingWalksNoSlot(t *testing.T) {
	r := newRig(t, time.Hour)
	r.policy.reload = true
	var calls atomic.Int32
	h := core.NewHandle("cached", r.policy)
	h.Owned.LastLoad = func(ctx context.Context, _ string) (any, error) {
		calls.Add(1)
		select {
		case <-ctx.Done():
		case <-r.ended:
		}
		return nil, ctx.Err()
	}
	r.dir.Store(h)
	r.env.Store(h, core.EntryFor("v", h.Gen(), r.env.Epoch(), r.env.Clock.Now(), core.Timing{TTL: time.Hour}))

	pid, stopped, release := stoppingRouter(r)
	r.env.Root.Send(pid, &messages.InvalidateAll{})
	release()
	_, err := stopped.Result()
	require.NoError(t, err, "the router never stopped: its walk bound an actor while stopping")
	require.Zero(t, calls.Load(), "a reload started on a stopping router")
}
