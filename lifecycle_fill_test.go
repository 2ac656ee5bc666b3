package slotcache

// Regression tests of issue 9 ("Slot lifecycle in one place") that need
// Redis: the fill path (WithFill) and the resync after a resubscribe,
// against a real redis-server per test. Each test fails on the code the
// issue was filed against, for the reason given in its comment. Helpers
// carry an lf prefix; the rt and ft helpers come from engine_redis_test.go
// and fill_test.go.

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/internal/redistest"
)

// lfHold is a go-redis hook that, once armed, holds back the commands that
// match until the test opens it (or lfHoldMax has passed, so that an engine
// whose Get waits for the invalidation still finishes), signalling entered
// when one is held. It plays a slow Redis round trip at the worst moment.
type lfHold struct {
	match   func(redis.Cmder) bool
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

// lfHoldMax bounds how long lfHold holds a command back. The fill op timeout
// of the tests that use it is longer, so that a held command still succeeds.
const lfHoldMax = 2 * time.Second

func lfNewHold(match func(redis.Cmder) bool) *lfHold {
	return &lfHold{match: match, entered: make(chan struct{}, 16), release: make(chan struct{})}
}

func (h *lfHold) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *lfHold) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (h *lfHold) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if h.armed.Load() && h.match(cmd) {
			select {
			case h.entered <- struct{}{}:
			default:
			}
			t := time.NewTimer(lfHoldMax)
			select {
			case <-h.release:
			case <-t.C:
			}
			t.Stop()
		}
		return next(ctx, cmd)
	}
}

func (h *lfHold) open() { h.once.Do(func() { close(h.release) }) }

func (h *lfHold) awaitEntered(t *testing.T, what string) {
	t.Helper()
	select {
	case <-h.entered:
	case <-time.After(rtWait):
		t.Fatalf("%s never reached Redis", what)
	}
}

// Defect 1: Invalidate (and InvalidateAll) with WithFill bumped the local
// generation before deleting the shared copy (retiring the namespace), so a
// Get on the same instance in between refilled from the old shared copy and
// cached it under the new generation; the instance's own publish is skipped
// as an echo, so nothing ever corrected it: after Invalidate returned and the
// source held v2, Get returned v1 for the whole TTL.
//
// A hook on the invalidating instance's client holds the DEL (for
// InvalidateAll, the SET of the namespace key) until a Get on each instance,
// started while the invalidation is in flight, has returned. Those Gets may
// return either value; every Get that starts after Invalidate returned must
// return v2 on the invalidating instance, and on the other one once its
// notice has arrived.
func TestLifecycleFillInvalidateLeavesNoStaleValue(t *testing.T) {
	heldDel := func(string) func(redis.Cmder) bool {
		return func(cmd redis.Cmder) bool { return cmd.Name() == "del" }
	}
	heldNamespace := func(channel string) func(redis.Cmder) bool {
		genKey := channel + ":fill:gen" // the namespace key under the default prefix
		return func(cmd redis.Cmder) bool {
			args := cmd.Args()
			return cmd.Name() == "set" && len(args) > 1 && args[1] == genKey
		}
	}
	for _, tc := range []struct {
		name       string
		invalidate func(*Engine) error
		held       func(channel string) func(redis.Cmder) bool
		confirmed  bool // the other instance applied it before it returned
	}{
		{"Invalidate", func(e *Engine) error { return e.Invalidate(context.Background(), "s") }, heldDel, false},
		{"InvalidateAll", func(e *Engine) error { return e.InvalidateAll(context.Background()) }, heldNamespace, false},
		{"InvalidateConfirmed", func(e *Engine) error { return e.InvalidateConfirmed(context.Background(), "s") }, heldDel, true},
		{"InvalidateAllConfirmed", func(e *Engine) error { return e.InvalidateAllConfirmed(context.Background()) }, heldNamespace, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t)
			ch := rtChannel(t)
			hold := lfNewHold(tc.held(ch))
			clientA := srv.Client(t)
			clientA.AddHook(hold)
			p := FillPolicy{OpTimeout: 2 * lfHoldMax}
			a := rtEngine(t, clientA, ch, WithFill(p))
			b := rtEngine(t, srv.Client(t), ch, WithFill(p))
			rtReady(t, a)
			rtReady(t, b)

			src := ftNewSource()
			v, err := ftGet(t, a, "s", src.load)
			require.NoError(t, err)
			require.Equal(t, "v1", v)
			data, _ := ftKeys(t, srv.Client(t), ch, "s")
			require.True(t, ftExists(t, srv.Client(t), data), "a shared the value")

			src.version.Store(2)
			hold.armed.Store(true)
			invalidated := make(chan error, 1)
			go func() { invalidated <- tc.invalidate(a) }()
			hold.awaitEntered(t, tc.name+"'s deletion of the shared copy")

			// While the invalidation is in flight: one Get on each instance
			// (b has no local copy, so it reads the shared tier too).
			inA := getAsync(context.Background(), a, "s", src.load)
			inB := getAsync(context.Background(), b, "s", src.load)
			require.NoError(t, await(t, inA).err)
			require.NoError(t, await(t, inB).err)
			hold.open()
			select {
			case err := <-invalidated:
				require.NoError(t, err)
			case <-time.After(rtWait):
				t.Fatalf("%s did not return", tc.name)
			}

			v, err = ftGet(t, a, "s", src.load)
			require.NoError(t, err)
			require.Equal(t, "v2", v, "Get on the invalidating instance returned %v after %s returned (the source holds v2)", v, tc.name)

			// The other instance: confirmed, it has applied the
			// invalidation already; otherwise its Get is a hit on its own
			// copy until the notice arrives. From then on it must see v2
			// and keep seeing it.
			if tc.confirmed {
				v, err := ftGet(t, b, "s", src.load)
				require.NoError(t, err)
				require.Equal(t, "v2", v, "the other instance returned %v after %s returned", v, tc.name)
			}
			require.Eventually(t, func() bool {
				v, err := ftGet(t, b, "s", src.load)
				return err == nil && v == "v2"
			}, rtWait, rtPoll, "the other instance kept returning v1 after %s", tc.name)
			v, err = ftGet(t, b, "s", src.load)
			require.NoError(t, err)
			require.Equal(t, "v2", v)
		})
	}
}

// lfAlwaysHour caches every value for an hour.
func lfAlwaysHour(string, any) (time.Duration, bool) { return time.Hour, true }

// Defect 2: a leader whose lease was lost while another instance committed
// got its value back with a 1 ns TTL meaning "do not cache", which a
// behaviour that sets the TTL overrode: the rejected value was cached for an
// hour on the leader's instance. "Not cached" must hold whatever the
// behaviour says. The scenario is TestFillSlowLeaderNeverCommitsStale's.
func TestLifecycleFillRejectedCommitIsNotCached(t *testing.T) {
	for _, tc := range []struct {
		name      string
		behaviour Behaviour
		slow      any // what the slow leader loads
	}{
		{"TTLFromValue", TTLFromValue(lfAlwaysHour), "slow"},
		{"NegativeTTL", NegativeTTL(time.Hour), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			es, _ := ftOvertakenLeader(t, 2, tc.slow, &calls, nil, WithBehaviour(tc.behaviour))
			a := es[0]

			v, err := ftGet(t, a, "s", ftCount(&calls, "more"))
			require.NoError(t, err)
			require.Equal(t, "second#1", v, "the rejected value was cached: Get on the leader's instance returned %v from its local cache", v)
		})
	}
}

// lfOnLoads counts OnLoad calls.
type lfOnLoads struct {
	Base
	n atomic.Int32
}

func (c *lfOnLoads) OnLoad(_ string, _ any, d Decision) Decision {
	c.n.Add(1)
	return d
}

// Defect 3: OnLoad ran twice per fill-leader load, once on the loader
// goroutine to decide the shared TTL and once in the slot, so JitterTTL
// compounded and a stateful behaviour counted double.
func TestLifecycleFillOnLoadOncePerLoad(t *testing.T) {
	srv := redistest.Start(t)
	ch := rtChannel(t)
	onA, onB := &lfOnLoads{}, &lfOnLoads{}
	a := rtEngine(t, srv.Client(t), ch, WithFill(FillPolicy{}), WithBehaviour(onA))
	b := rtEngine(t, srv.Client(t), ch, WithFill(FillPolicy{}), WithBehaviour(onB))
	rtReady(t, a)
	rtReady(t, b)
	var calls atomic.Int32

	v, err := ftGet(t, a, "s", ftCount(&calls, "v"))
	require.NoError(t, err)
	require.Equal(t, "v#1", v)
	require.Equal(t, uint64(1), a.Stats().FillLeaderLoads, "the scenario: a loaded as leader")
	require.Equal(t, int32(1), onA.n.Load(), "OnLoad ran %d times for one fill-leader load", onA.n.Load())

	v, err = ftGet(t, b, "s", ftCount(&calls, "unused"))
	require.NoError(t, err)
	require.Equal(t, "v#1", v)
	require.Equal(t, uint64(1), b.Stats().FillSharedHits, "the scenario: b read the shared copy")
	require.LessOrEqual(t, onB.n.Load(), int32(1), "OnLoad ran %d times for one shared hit", onB.n.Load())
	require.Equal(t, int32(1), calls.Load())
}

// Defect 4: a local copy made from a shared copy took the behaviour's TTL
// from the moment it was read, not the shared copy's remaining life: with
// NegativeTTL(600ms), an instance reading the shared copy 300 ms after it was
// written kept it to ~900 ms. The README promises local copies "expire
// together with the shared one": a local TTL from a shared copy is capped at
// the copy's remaining life.
//
// To discriminate without timing thresholds the gap is made large: the
// shared copy has 300 ms left when the second instance reads it, and that
// instance's behaviour gives the value an hour, which is what it kept it for.
func TestLifecycleFillSharedCopyCapsLocalTTL(t *testing.T) {
	for _, tc := range []struct {
		name      string
		behaviour Behaviour
		value     any
	}{
		{"NegativeTTL", NegativeTTL(time.Hour), nil},
		{"TTLFromValue", TTLFromValue(lfAlwaysHour), "v"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t)
			client := srv.Client(t)
			ch := rtChannel(t)
			a := rtEngine(t, srv.Client(t), ch, WithFill(FillPolicy{}))
			b := rtEngine(t, srv.Client(t), ch, WithFill(FillPolicy{}), WithBehaviour(tc.behaviour))
			rtReady(t, a)
			rtReady(t, b)
			var calls atomic.Int32
			load := func(context.Context, string) (any, error) { calls.Add(1); return tc.value, nil }

			_, err := ftGet(t, a, "s", load)
			require.NoError(t, err)
			data, _ := ftKeys(t, client, ch, "s")
			require.NoError(t, client.PExpire(context.Background(), data, 300*time.Millisecond).Err())

			v, err := ftGet(t, b, "s", load)
			require.NoError(t, err)
			require.Equal(t, tc.value, v)
			require.Equal(t, uint64(1), b.Stats().FillSharedHits, "the scenario: b read the shared copy")
			require.Equal(t, int32(1), calls.Load())

			// The shared copy is gone within 300 ms; the local one must go
			// with it (the engine TTL and the behaviour say an hour).
			require.Eventually(t, func() bool { return !ftExists(t, client, data) }, rtWait, rtPoll)
			require.Eventually(t, func() bool { return !b.Cached("s") }, rtWait, rtPoll,
				"b's local copy outlived the shared copy it was read from (300 ms left when read; the behaviour said 1h)")
			_, err = ftGet(t, b, "s", load)
			require.NoError(t, err)
			require.Equal(t, int32(2), calls.Load(), "b reloaded once the shared copy was over")
		})
	}
}

// Defect 6, the resync: the flush after a resubscribe reached only live slot
// actors, so OnInvalidate (an eager reload) did not run for slots whose
// actor had passivated.
func TestLifecycleResyncRunsOnInvalidateForPassivatedSlots(t *testing.T) {
	const n = 8
	srv := redistest.Start(t)
	rec := &lfInvalidations{}
	e := rtEngine(t, srv.Client(t), rtChannel(t), WithBehaviour(rec), WithPassivateAfter(0))
	rtReady(t, e)
	ids := lfLoadPassivated(t, e, n)

	require.Positive(t, srv.KillPubSubClients())
	require.Eventually(t, func() bool { return e.Stats().Subscriptions >= 2 }, rtWait, rtPoll)
	lfAwaitReloaded(t, e, rec, ids, "the resync after a resubscribe")
}

// Defect 9: Stats.Loads is documented as loader calls, but counted a fill
// follower's shared hit, which calls no loader.
func TestLifecycleFillLoadsCountsLoaderCallsOnly(t *testing.T) {
	srv := redistest.Start(t)
	es := ftEngines(t, srv, rtChannel(t), 2, FillPolicy{})
	a, b := es[0], es[1]
	var calls atomic.Int32
	for _, e := range es {
		v, err := ftGet(t, e, "s", ftCount(&calls, "v"))
		require.NoError(t, err)
		require.Equal(t, "v#1", v)
	}
	require.Equal(t, int32(1), calls.Load())
	require.Equal(t, uint64(1), b.Stats().FillSharedHits, "the scenario: b read the shared copy")
	require.Equal(t, uint64(1), a.Stats().Loads, "a called the loader once")
	require.Zero(t, b.Stats().Loads, "Stats.Loads counted %d loader calls on an instance that called none (a shared hit)", b.Stats().Loads)
}

type lfCtxKey struct{}

// Defect 8 with WithFill: the caller's values reach the loader through the
// fill coordinator too, as leader.
func TestLifecycleFillLoaderContextKeepsCallerValues(t *testing.T) {
	srv := redistest.Start(t)
	es := ftEngines(t, srv, rtChannel(t), 1, FillPolicy{})
	var got any
	load := func(ctx context.Context, _ string) (any, error) { got = ctx.Value(lfCtxKey{}); return "v", nil }
	ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), lfCtxKey{}, "trace-1"), rtWait)
	defer cancel()
	v, err := es[0].Get(ctx, "s", load)
	require.NoError(t, err)
	require.Equal(t, "v", v)
	require.Equal(t, uint64(1), es[0].Stats().FillLeaderLoads, "the scenario: the loader ran as fill leader")
	require.Equal(t, "trace-1", got, "the loader's context lost the caller's values: ctx.Value = %v", got)
}
