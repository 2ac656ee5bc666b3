package actors

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/internal/core"
	"github.com/slotcache/slotcache/messages"
)

// Unit tests of every lifecycle transition (lifecycle.go), driving the
// router and slot actors by hand through a fake actor context: no actor
// system schedules anything, so each test sees exactly one transition.

// fakeCtx is the actor context of one actor under test. It records what the
// actor sends, spawns and stops; any other context method panics (nil
// embedded interface), which flags an actor that starts using more.
type fakeCtx struct {
	actor.Context
	msg          any
	self, parent *actor.PID
	sent         []sentMsg
	spawned      int
	stopped      []*actor.PID
}

type sentMsg struct {
	to  *actor.PID
	msg any
}

func newFakeCtx() *fakeCtx {
	return &fakeCtx{self: actor.NewPID("test", "self"), parent: actor.NewPID("test", "router")}
}

func (c *fakeCtx) Message() any        { return c.msg }
func (c *fakeCtx) Self() *actor.PID    { return c.self }
func (c *fakeCtx) Parent() *actor.PID  { return c.parent }
func (c *fakeCtx) Stop(pid *actor.PID) { c.stopped = append(c.stopped, pid) }
func (c *fakeCtx) Send(pid *actor.PID, m any) {
	c.sent = append(c.sent, sentMsg{to: pid, msg: m})
}
func (c *fakeCtx) Spawn(*actor.Props) *actor.PID {
	c.spawned++
	return actor.NewPID("test", fmt.Sprint("slot-", c.spawned))
}

// deliver hands m to a as its next message.
func (c *fakeCtx) deliver(a actor.Actor, m any) {
	c.msg = m
	a.Receive(c)
}

// take returns and forgets what was sent so far.
func (c *fakeCtx) take() []sentMsg {
	s := c.sent
	c.sent = nil
	return s
}

// countingPolicy counts its hooks and decides what the test says.
type countingPolicy struct {
	loaded, invalidated atomic.Int32
	ttl                 time.Duration
	reload              bool
}

func (p *countingPolicy) Loaded(_ string, _ any, t core.Timing) core.Timing {
	p.loaded.Add(1)
	if p.ttl != 0 {
		t.TTL = p.ttl
	}
	return t
}
func (p *countingPolicy) Failed(string, error) bool { return true }
func (p *countingPolicy) Invalidated(string) bool {
	p.invalidated.Add(1)
	return p.reload
}

type rig struct {
	idle      *idleQueue
	deadlines *deadlines
	workers   *Workers      // run the loads
	ended     chan struct{} // closed when the test ends
	env       *core.Env
	dir       *core.DirWriter
	policy    *countingPolicy
}

func newRig(t testing.TB, passivateAfter time.Duration) *rig {
	t.Helper()
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	ctx, cancel := context.WithCancel(context.Background())
	dir, w := core.NewDirectory()
	p := &countingPolicy{}
	env := core.NewEnv(core.EnvConfig{
		Ctx: ctx, Root: system.Root, Clock: core.NewClock(), TTL: time.Hour, LoadTimeout: time.Minute,
		PassivateAfter: passivateAfter, Logger: slog.New(slog.DiscardHandler),
		PolicyFor: func(string) core.Policy { return p },
	}, dir)
	workers := NewWorkers()
	t.Cleanup(func() { workers.Stop(context.Background()) }) // cleanups run last-first: this one after the loaders have returned
	ended := make(chan struct{})
	t.Cleanup(func() {
		close(ended)
		cancel()
		wctx, wcancel := context.WithTimeout(context.Background(), time.Second)
		_ = env.AwaitLoaders(wctx)
		wcancel()
		env.Clock.Stop()
		system.Shutdown()
	})
	d := newDeadlines()
	t.Cleanup(d.stop)
	return &rig{idle: newIdleQueue(env, workers), deadlines: d, workers: workers, ended: ended, env: env, dir: w, policy: p}
}

// block is a loader that returns only once the test has ended, whatever
// its context says: the tests deliver load results by hand, and the real
// loader goroutine must not report anything meanwhile.
func (r *rig) block(context.Context, string) (any, error) {
	<-r.ended
	return nil, nil
}

func get(load core.Loader) (*messages.Get, chan messages.Result) {
	reply := make(chan messages.Result, 1)
	return &messages.Get{Ctx: context.Background(), Load: load, Reply: reply}, reply
}

// boundSlot returns a slot actor bound to a new handle, as the router's bind
// leaves it: one request admitted.
func (r *rig) boundSlot(id string) (*slot, *core.Handle, *core.Binding) {
	h := core.NewHandle(id, r.policy)
	r.dir.Store(h)
	b := core.NewBinding(h)
	b.PID = actor.NewPID("test", "self")
	h.Bind(b)
	return r.slotFor(b), h, b
}

// loading returns a slot actor bound to a new handle, with one Get
// delivered: its load is in flight (the loader blocks until the test
// ends), s.current is its flight, and reply gets the Get's answer.
func (r *rig) loading(id string) (s *slot, h *core.Handle, b *core.Binding, c *fakeCtx, reply chan messages.Result) {
	s, h, b = r.boundSlot(id)
	c = newFakeCtx()
	g, reply := get(r.block)
	c.deliver(s, g)
	return s, h, b, c, reply
}

// routedThenReleased routes a Get for id through rt, which binds an actor,
// and then has that actor take the Get and release the slot, as an idle
// actor does.
func (r *rig) routedThenReleased(t *testing.T, rt *router, c *fakeCtx, id string) (*core.Handle, *core.Binding) {
	t.Helper()
	g, _ := get(r.block)
	c.deliver(rt, &messages.Route{ID: id, Msg: g})
	h, ok := r.dir.Directory().Load(id)
	require.True(t, ok)
	b := h.Binding()
	b.Took()
	require.True(t, b.Release())
	return h, b
}

func (r *rig) router() *router {
	return &router{env: r.env, dir: r.dir, idle: r.idle, deadlines: r.deadlines}
}

// slotFor returns an incarnation of an actor bound to b.
func (r *rig) slotFor(b *core.Binding) *slot {
	return &slot{env: r.env, lifecycle: lifecycle{cell: &cell{h: b.H, b: b, idleQ: r.idle, run: r.workers, deadlines: r.deadlines}}, flights: make(map[uint64]*flight)}
}

// done is flight f's end as its loader goroutine reports it: f itself, with
// its result.
func done(f *flight, res core.FillResult) *flight {
	f.result = res
	return f
}

// --- router transitions ---

// unbound → active: the first Get of a slot creates it and binds an actor.
func TestRouterBindsOnFirstGet(t *testing.T) {
	r := newRig(t, 0)
	rt, c := r.router(), newFakeCtx()
	g, _ := get(r.block)
	c.deliver(rt, &messages.Route{ID: "s", Msg: g})

	h, ok := r.dir.Directory().Load("s")
	require.True(t, ok, "the slot was created")
	assert.Equal(t, 1, c.spawned)
	require.True(t, h.Bound())
	sent := c.take()
	require.Len(t, sent, 1)
	assert.Same(t, g, sent[0].msg)
	assert.Equal(t, h.Binding().PID, sent[0].to)
	assert.False(t, h.Binding().Release(), "the admitted Get keeps the binding")
	assert.EqualValues(t, 1, r.env.Stats.Actors.Load())
}

// active: requests go to the bound actor; no second actor.
func TestRouterRoutesToBoundActor(t *testing.T) {
	r := newRig(t, 0)
	rt, c := r.router(), newFakeCtx()
	g1, _ := get(r.block)
	g2, _ := get(r.block)
	c.deliver(rt, &messages.Route{ID: "s", Msg: g1})
	c.deliver(rt, &messages.Route{ID: "s", Msg: g2})
	assert.Equal(t, 1, c.spawned)
	sent := c.take()
	require.Len(t, sent, 2)
	assert.Equal(t, sent[0].to, sent[1].to)
}

// passivating → unbound → active: a slot whose actor released it gets a new
// actor on the next request.
func TestRouterRebindsAfterRelease(t *testing.T) {
	r := newRig(t, 0)
	rt, c := r.router(), newFakeCtx()
	h, old := r.routedThenReleased(t, rt, c, "s")

	g, _ := get(r.block)
	c.deliver(rt, &messages.Route{ID: "s", Msg: g})
	assert.Equal(t, 2, c.spawned)
	assert.NotSame(t, old, h.Binding())
	assert.True(t, h.Bound())

	// The old actor's late report does not unbind the new one.
	c.deliver(rt, (*released)(old))
	assert.True(t, h.Bound())
	_, ok := r.dir.Directory().Load("s")
	assert.True(t, ok)
}

// passivating → unbound: the router forgets the binding, and the slot too
// when it holds nothing; a slot with an entry stays for its hits.
func TestRouterForgetsReleasedEmptySlot(t *testing.T) {
	r := newRig(t, 0)
	rt, c := r.router(), newFakeCtx()
	for _, id := range []string{"empty", "full"} {
		g, _ := get(r.block)
		c.deliver(rt, &messages.Route{ID: id, Msg: g})
	}
	full, _ := r.dir.Directory().Load("full")
	r.env.Store(full, core.EntryFor("v", full.Gen(), r.env.Epoch(), r.env.Clock.Now(), core.Timing{TTL: time.Hour}))
	for _, id := range []string{"empty", "full"} {
		h, _ := r.dir.Directory().Load(id)
		b := h.Binding()
		b.Took()
		require.True(t, b.Release())
		c.deliver(rt, (*released)(b))
		assert.Nil(t, h.Binding())
	}
	_, ok := r.dir.Directory().Load("empty")
	assert.False(t, ok, "an empty slot without actor is forgotten")
	_, ok = r.dir.Directory().Load("full")
	assert.True(t, ok, "a slot with an entry stays")
	assert.EqualValues(t, 0, r.env.Stats.Actors.Load())
}

// unbound: an invalidation frees the entry and runs OnInvalidate without
// binding an actor.
func TestRouterInvalidatesUnboundSlotWithoutActor(t *testing.T) {
	r := newRig(t, 0)
	rt, c := r.router(), newFakeCtx()
	h := core.NewHandle("s", r.policy)
	r.dir.Store(h)
	r.env.Store(h, core.EntryFor("v", h.Gen(), r.env.Epoch(), r.env.Clock.Now(), core.Timing{TTL: time.Hour}))
	h.Invalidate()

	c.deliver(rt, &messages.Route{ID: "s", Msg: &messages.Invalidate{}})
	assert.Zero(t, c.spawned, "no actor just to free an entry")
	assert.Nil(t, h.Entry())
	assert.EqualValues(t, 1, r.policy.invalidated.Load())
	_, ok := r.dir.Directory().Load("s")
	assert.False(t, ok, "nothing left: forgotten")
}

// unbound → active: an invalidation whose behaviour reloads binds an actor
// and asks it to reload.
func TestRouterInvalidationThatReloadsBinds(t *testing.T) {
	r := newRig(t, 0)
	r.policy.reload = true
	rt, c := r.router(), newFakeCtx()
	h := core.NewHandle("s", r.policy)
	h.Owned.LastLoad = r.block
	r.dir.Store(h)
	r.env.Store(h, core.EntryFor("v", h.Gen(), r.env.Epoch(), r.env.Clock.Now(), core.Timing{TTL: time.Hour}))
	h.Invalidate()

	c.deliver(rt, &messages.Route{ID: "s", Msg: &messages.Invalidate{}})
	assert.Equal(t, 1, c.spawned)
	sent := c.take()
	require.Len(t, sent, 1)
	assert.IsType(t, &reloadNow{}, sent[0].msg)
}

// InvalidateAll reaches every slot: bound ones by message, unbound ones with
// an entry by the router itself, without an actor.
func TestRouterInvalidateAllReachesEverySlot(t *testing.T) {
	r := newRig(t, 0)
	rt, c := r.router(), newFakeCtx()
	g, _ := get(r.block)
	c.deliver(rt, &messages.Route{ID: "bound", Msg: g})
	c.take()
	for i := range 3 {
		h := core.NewHandle(fmt.Sprint("idle-", i), r.policy)
		r.dir.Store(h)
		r.env.Store(h, core.EntryFor("v", h.Gen(), r.env.Epoch(), r.env.Clock.Now(), core.Timing{TTL: time.Hour}))
	}
	r.env.Flush()
	c.deliver(rt, &messages.InvalidateAll{})
	for len(c.sent) > 0 && c.sent[len(c.sent)-1].to == c.self { // later steps of the walk
		step := c.sent[len(c.sent)-1].msg
		c.sent = c.sent[:len(c.sent)-1]
		c.deliver(rt, step)
	}
	assert.Equal(t, 1, c.spawned, "no actor for the idle slots")
	assert.EqualValues(t, 3, r.policy.invalidated.Load(), "every idle slot's behaviour ran")
	sent := c.take()
	require.Len(t, sent, 1)
	assert.IsType(t, &messages.InvalidateAll{}, sent[0].msg)
	assert.EqualValues(t, 0, r.env.Cached(), "the idle slots' entries were freed")
}

// --- slot transitions ---

// active → loading → active: a Get starts one load, a second joins it, the
// result is cached and answers both; the idle actor then gives up its slot.
func TestSlotLoadsOnceThenPassivates(t *testing.T) {
	r := newRig(t, 0)
	s, h, b := r.boundSlot("s")
	c := newFakeCtx()
	c.deliver(s, &actor.Started{})
	assert.False(t, b.Released(), "an admitted request keeps the fresh actor")

	g1, reply1 := get(r.block)
	c.deliver(s, g1)
	require.True(t, b.Enter())
	g2, reply2 := get(r.block)
	c.deliver(s, g2)
	require.Len(t, s.flights, 1, "one load for both")
	assert.EqualValues(t, 1, r.env.Stats.Coalesced.Load())
	assert.False(t, b.Released(), "loading: no passivation")

	c.deliver(s, done(s.current, core.FillResult{Value: "v"}))
	assert.Equal(t, "v", (<-reply1).Value)
	assert.Equal(t, "v", (<-reply2).Value)
	assert.Equal(t, "v", r.env.Fresh(h).Value)
	assert.EqualValues(t, 1, r.policy.loaded.Load())

	assert.True(t, b.Released(), "idle with nothing on its way: released")
	assert.Nil(t, s.b, "the actor waits unbound for its next binding")
	assert.Empty(t, c.stopped, "pooled, not stopped")
	sent := c.take()
	require.Len(t, sent, 1)
	assert.Equal(t, (*released)(b), sent[0].msg)
	assert.Equal(t, c.parent, sent[0].to)
	assert.False(t, b.Enter(), "senders now go to the router")
}

// active: an idle actor with a request on its way does not release.
func TestSlotKeepsBindingWhileARequestIsOnItsWay(t *testing.T) {
	r := newRig(t, 0)
	s, _, b := r.boundSlot("s")
	c := newFakeCtx()
	require.True(t, b.Enter()) // a second request, still in the mailbox
	c.deliver(s, &messages.Refresh{})
	assert.False(t, b.Released())

	c.deliver(s, &messages.Refresh{})
	assert.True(t, b.Released())
	assert.Nil(t, s.b)
}

// active → passivating after PassivateAfter: an idle actor waits in the
// idle queue; a tick releases the slot once it has been idle that long,
// an early one queues it again.
func TestSlotPassivatesAfterIdleWait(t *testing.T) {
	r := newRig(t, time.Hour)
	s, _, b := r.boundSlot("s")
	c := newFakeCtx()
	c.deliver(s, &messages.Refresh{})
	assert.False(t, b.Released(), "waits PassivateAfter")
	require.Len(t, r.idle.items, 1, "queued once")
	require.True(t, b.Enter())
	c.deliver(s, &messages.Refresh{})
	require.Len(t, r.idle.items, 1, "still queued once")

	c.deliver(s, tick)
	assert.False(t, b.Released(), "an early tick is ignored")
	require.Len(t, r.idle.items, 2, "queued again")
	s.idleSince -= int64(time.Hour) // an hour has passed
	c.deliver(s, tick)
	assert.True(t, b.Released())
	assert.Nil(t, s.b)
}

// The idle queue ticks the actors that have waited long enough, oldest
// first, and says when the next one is due.
func TestIdleQueueTicksDueActors(t *testing.T) {
	r := newRig(t, time.Minute)
	now := r.env.Clock.Now()
	old, young := actor.NewPID("test", "old"), actor.NewPID("test", "young")
	r.idle.push(old, now-int64(2*time.Minute))
	r.idle.push(young, now)
	next := r.idle.tickDue()
	assert.InDelta(t, float64(time.Minute), float64(next), float64(time.Second), "the young one is due in a minute")
	assert.Equal(t, 1, r.idle.head, "the old one was ticked")
	assert.Equal(t, young, r.idle.items[r.idle.head].pid)
}

// loading → restart → active: a panic restarts the actor; the waiters are
// sent again to the next incarnation, which loads again and then
// passivates like any other (no leaked actor).
func TestSlotRestartRequeuesWaitersAndPassivates(t *testing.T) {
	r := newRig(t, 0)
	s, _, b, c, reply := r.loading("s")
	f := s.current

	pe := &core.PanicError{Slot: "s", Value: "boom"}
	f.panic = pe
	require.Panics(t, func() {
		c.deliver(s, done(f, core.FillResult{Err: pe}))
	})
	assert.ErrorIs(t, (<-reply).Err, core.ErrLoaderPanic)
	// The supervisor restarts it: the old incarnation hears Restarting.
	// Another waiter, already taken from the mailbox, waits on a second load.
	g2, reply2 := get(r.block)
	s.flights[s.env.NextFlight()] = &flight{waiters: []*messages.Get{g2}, deadlines: r.deadlines}
	c.deliver(s, &actor.Restarting{})
	assert.EqualValues(t, 1, r.env.Stats.SlotRestarts.Load())
	sent := c.take()
	require.Len(t, sent, 1, "the waiter is sent again")
	assert.Same(t, g2, sent[0].msg)

	next := &slot{env: r.env, lifecycle: lifecycle{cell: s.cell}, flights: make(map[uint64]*flight)}
	c.deliver(next, &actor.Started{})
	c.deliver(next, g2)
	c.deliver(next, done(next.current, core.FillResult{Value: "v"}))
	assert.Equal(t, "v", (<-reply2).Value)
	assert.True(t, b.Released(), "the restarted actor passivates")
	assert.Nil(t, next.b)
}

// A failed reload of a kept value backs off: hits may not ask again before
// a share of the lifetime, growing with each failure.
func TestSlotFailedReloadBacksOff(t *testing.T) {
	r := newRig(t, 0)
	s, h, _ := r.boundSlot("s")
	h.Owned.LastLoad = r.block
	c := newFakeCtx()
	now := r.env.Clock.Now()
	r.env.Store(h, core.EntryFor("old", h.Gen(), r.env.Epoch(), now, core.Timing{TTL: 16 * time.Second, RefreshAfter: time.Nanosecond}))
	e := h.Entry()
	require.True(t, e.RequestRefresh(now))
	c.deliver(s, &messages.Refresh{})
	require.NotNil(t, s.current)
	c.deliver(s, done(s.current, core.FillResult{Err: fmt.Errorf("down")}))
	after := r.env.Clock.Now()
	assert.Same(t, e, h.Entry(), "the old value is kept")
	assert.False(t, e.RequestRefresh(now), "no retry at once")
	assert.True(t, e.RequestRefresh(after+int64(time.Second)), "a sixteenth of the lifetime later")
	assert.Equal(t, time.Second, backoff(16*time.Second, 1))
	assert.Equal(t, 2*time.Second, backoff(16*time.Second, 2))
	assert.Equal(t, 16*time.Second, backoff(16*time.Second, 10), "capped at the lifetime")
}

// passivating → pooled → active: a released actor goes back to the pool and
// the next bind takes it, telling it its slot in the one message that
// carries the request; no spawn.
func TestRouterBindsPooledActor(t *testing.T) {
	r := newRig(t, 0)
	rt, c := r.router(), newFakeCtx()
	_, b := r.routedThenReleased(t, rt, c, "a")
	c.deliver(rt, (*released)(b))
	require.Equal(t, []*actor.PID{b.PID}, rt.pool)
	c.take()

	g, _ := get(r.block)
	c.deliver(rt, &messages.Route{ID: "b", Msg: g})
	assert.Equal(t, 1, c.spawned, "the pooled actor was reused")
	assert.Empty(t, rt.pool)
	sent := c.take()
	require.Len(t, sent, 1, "the binding carries the request")
	h, _ := r.dir.Directory().Load("b")
	assert.Same(t, h.Binding(), sent[0].msg)
	assert.Equal(t, b.PID, sent[0].to)

	// The pooled actor takes the slot from the binding, and the request.
	s := r.slotFor(b)
	assert.Same(t, g, s.take(h.Binding()))
	assert.Same(t, h, s.h)
	assert.Nil(t, h.Binding().First, "taken once")
}

// The pool shrinks by half each second it was not needed, down to nothing.
func TestRouterPoolShrinksWhenIdle(t *testing.T) {
	r := newRig(t, 0)
	rt, c := r.router(), newFakeCtx()
	for i := range 8 {
		rt.pool = append(rt.pool, actor.NewPID("test", fmt.Sprint("pooled-", i)))
	}
	rt.poolLow = 8
	for range shrinkEvery {
		rt.shrinkPool(c)
	}
	assert.Len(t, c.stopped, 4)
	assert.Len(t, rt.pool, 4)
	for range 4 * shrinkEvery {
		rt.shrinkPool(c)
	}
	assert.Empty(t, rt.pool, "an idle engine ends with no actor")
	assert.Len(t, c.stopped, 8)
}

// Workers start on demand and exit when idle, so an idle engine holds
// none; Stop waits for the busy ones.
func TestWorkersStartOnDemandAndStop(t *testing.T) {
	w := NewWorkers()
	assert.Zero(t, w.running.Len(), "no worker before any work")
	ran := make(chan struct{})
	w.run(funcTask(func() { close(ran) }))
	<-ran
	assert.EqualValues(t, 1, w.running.Len())
	w.Stop(context.Background())
	assert.Zero(t, w.running.Len(), "Stop ended the worker")
	done := make(chan struct{})
	w.run(funcTask(func() { close(done) })) // after Stop: a goroutine of its own
	<-done
}

// A worker with nothing to run exits after its idle period, so an idle
// engine holds no goroutine, and work scheduled afterwards starts one.
func TestWorkersExitWhenIdle(t *testing.T) {
	w := NewWorkers()
	w.idle = 20 * time.Millisecond
	defer w.Stop(context.Background())
	ran := make(chan struct{}, 1)
	for range 2 {
		w.run(funcTask(func() { ran <- struct{}{} }))
		<-ran
		require.Eventually(t, func() bool { return w.running.Len() == 0 }, 10*time.Second, time.Millisecond, "an idle worker exits")
	}
}

// BenchmarkRouterInvalidateAllWalk: the router's walk of an InvalidateAll
// over 100 000 slots without actors, each holding an entry: the work a
// flush costs when behaviours must run for every slot.
func BenchmarkRouterInvalidateAllWalk(b *testing.B) {
	r := newRig(b, 0)
	rt, c := r.router(), newFakeCtx()
	handles := make([]*core.Handle, 100_000)
	for i := range handles {
		h := core.NewHandle(fmt.Sprint("s", i), r.policy)
		r.dir.Store(h)
		handles[i] = h
	}
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		for _, h := range handles {
			if _, ok := r.dir.Directory().Load(h.ID); !ok {
				r.dir.Store(h)
			}
			r.env.Store(h, core.EntryFor("v", h.Gen(), r.env.Epoch(), r.env.Clock.Now(), core.Timing{TTL: time.Hour}))
		}
		r.env.Flush()
		b.StartTimer()
		c.deliver(rt, &messages.InvalidateAll{})
		for len(c.sent) > 0 {
			step := c.sent[len(c.sent)-1].msg
			c.sent = c.sent[:len(c.sent)-1]
			c.deliver(rt, step)
		}
	}
}
