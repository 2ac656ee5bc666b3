package actors

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/internal/core"
	"github.com/slotcache/slotcache/messages"
)

// blockingPolicy blocks in OnInvalidate until the test releases it, so
// that the test knows which goroutine is running the router, and when.
type blockingPolicy struct {
	*countingPolicy
	entered, release chan struct{}
}

func (p blockingPolicy) Invalidated(string) bool {
	close(p.entered)
	<-p.release
	return false
}

// The router's background goroutine ticks idle slot actors (and asks for
// sweeps). A send may run the receiver in place (callerMailbox), and a
// slot actor that runs in place may run the router in place in turn. If
// the router's Stop arrives while that goroutine is running it, the
// router's Stopping waits for the background goroutine to end: for itself.
// Shutdown then hung until the poison's future timed out ("stopping the
// router: future: timeout", seen in CI). Here the router is held in a
// behaviour hook reached from a tick, the Stop is queued behind it, and
// the router must stop once the hook returns.
func TestRouterStopsWhileTheGoroutineThatTicksRunsIt(t *testing.T) {
	r := newRig(t, time.Hour)
	var rt *router
	pid := r.env.Root.Spawn(RouterProps(r.env, r.dir, r.workers).Configure(actor.WithProducer(func() actor.Actor {
		rt = newRouter(r.env, r.dir, r.workers)
		return rt
	})))

	p := blockingPolicy{countingPolicy: r.policy, entered: make(chan struct{}), release: make(chan struct{})}
	h := core.NewHandle("x", p)
	r.dir.Store(h)
	r.env.Store(h, core.EntryFor("v", h.Gen(), r.env.Epoch(), r.env.Clock.Now(), core.Timing{TTL: time.Hour}))

	// An actor that, on its idle tick, invalidates the slot through the
	// router, as a passivating slot actor reports to it.
	ticked := r.env.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if _, ok := c.Message().(*idleTick); ok {
			c.Send(pid, &messages.Route{ID: "x", Msg: &messages.Invalidate{}})
		}
	}, actor.WithMailbox(slotMailbox)))
	rt.idle.push(ticked, r.env.Clock.Now()-int64(time.Hour)) // due now

	<-p.entered
	stopped := r.env.Root.PoisonFuture(pid) // queued: the router is busy
	close(p.release)
	_, err := stopped.Result()
	require.NoError(t, err, "the router stopped once its hook returned")
}
