package slotcache

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/internal/redistest"
)

// Set overtakes a load in flight: the new value is served as soon as Set
// returns, the caller that was waiting for the load gets the load's value,
// and the load's older value is never cached.
func TestSetOvertakesLoadInFlight(t *testing.T) {
	e := newEngine(t, WithTTL(time.Hour))
	g := newGate(value("old"))
	c := newCache(t, e, "s", func(ctx context.Context, id string) (string, error) {
		v, err := g.load(ctx, id)
		return v.(string), err
	})
	ctx := context.Background()
	inflight := make(chan string, 1)
	go func() { v, _ := c.Get(ctx, "k"); inflight <- v }()
	g.awaitCall(t, 1)

	require.NoError(t, c.Set(ctx, "k", "new"))
	v, ok := c.Peek("k")
	require.True(t, ok, "cached at once")
	assert.Equal(t, "new", v)

	g.open()
	assert.Equal(t, "old", <-inflight, "asked before the Set")
	got, err := c.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, "new", got, "the overtaken load was not cached")
	assert.EqualValues(t, 1, g.calls.Load())
}

// Set on a slot never seen creates it; the slot's behaviour decides the
// value's lifetime.
func TestSetNewSlotAndBehaviour(t *testing.T) {
	e := newEngine(t, WithTTL(time.Hour))
	var calls atomic.Int32
	c := newCache(t, e, "s", func(context.Context, string) (token, error) {
		calls.Add(1)
		return token{}, nil
	}, WithBehaviour(TTLFromValue(func(_ string, v any) (time.Duration, bool) {
		tok, ok := v.(token)
		return tok.ttl, ok
	})))
	ctx := context.Background()
	require.NoError(t, c.Set(ctx, "fresh", token{ttl: time.Hour}))
	assert.True(t, c.Cached("fresh"))
	require.NoError(t, c.Set(ctx, "expired", token{ttl: 0}))
	assert.False(t, c.Cached("expired"), "the behaviour gave it no lifetime")
	assert.Zero(t, calls.Load())
}

// With fill, Set drops the shared copy and other instances drop theirs:
// their next Get loads the new value from the source, never the old
// shared copy.
func TestSetAcrossInstancesWithFill(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	ch := rtChannel(t)
	var source atomic.Value
	source.Store("v1")
	var calls atomic.Int32
	load := func(context.Context, string) (string, error) {
		calls.Add(1)
		return source.Load().(string), nil
	}
	var caches []*Cache[string]
	for range 2 {
		c := newCache(t, rtEngine(t, srv.Client(t), ch), "s", load, WithFill(FillPolicy{}))
		require.NoError(t, c.WaitReady(ctx))
		caches = append(caches, c)
	}
	a, b := caches[0], caches[1]
	for _, c := range caches {
		v, err := c.Get(ctx, "k")
		require.NoError(t, err)
		require.Equal(t, "v1", v)
	}
	require.EqualValues(t, 1, calls.Load(), "b read the shared copy")
	client := srv.Client(t)
	data, _ := ftKeys(t, client, a.Channel(), "k")
	require.True(t, ftExists(t, client, data))

	source.Store("v2") // the write to the source, then write-through
	require.NoError(t, a.Set(ctx, "k", "v2"))
	assert.False(t, ftExists(t, client, data), "the shared copy is gone")
	v, ok := a.Peek("k")
	assert.True(t, ok)
	assert.Equal(t, "v2", v)
	require.Eventually(t, func() bool { return !b.Cached("k") }, wait, time.Millisecond, "b dropped its copy")
	v, err := b.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, "v2", v)
}

// With fill, Set overtakes loads in flight on every instance: a load that
// read the source before the write is not cached, here or on the instance
// that ran it, and its commit to the shared tier is refused, so no
// instance is served the old value once Set returned and its invalidation
// arrived.
func TestSetWithFillOvertakesLoadsInFlight(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	ch := rtChannel(t)
	var source atomic.Value
	source.Store("v1")
	var gated atomic.Bool
	gated.Store(true)
	entered, release := make(chan string, 2), make(chan struct{})
	load := func(_ context.Context, id string) (string, error) {
		v := source.Load().(string)
		if gated.Load() {
			entered <- id
			<-release // ignores its context: the commit comes after the Set
		}
		return v, nil
	}
	a := newCache(t, rtEngine(t, srv.Client(t), ch), "s", load, WithFill(FillPolicy{}))
	b := newCache(t, rtEngine(t, srv.Client(t), ch), "s", load, WithFill(FillPolicy{}))
	require.NoError(t, a.WaitReady(ctx))
	require.NoError(t, b.WaitReady(ctx))

	// x loads on a (the instance that will Set), y on b; both read v1.
	inflight := make(chan string, 2)
	go func() { v, _ := a.Get(ctx, "x"); inflight <- v }()
	go func() { v, _ := b.Get(ctx, "y"); inflight <- v }()
	<-entered
	<-entered

	source.Store("v2") // the write to the source, then write-through
	require.NoError(t, a.Set(ctx, "x", "v2"))
	require.NoError(t, a.Set(ctx, "y", "v2"))
	require.Eventually(t, func() bool { return b.Stats().CrossProcessInvalidations >= 2 }, wait, time.Millisecond,
		"b applied both invalidations while its load was in flight")
	gated.Store(false)
	close(release)
	assert.Equal(t, "v1", <-inflight, "asked before the Set")
	assert.Equal(t, "v1", <-inflight, "asked before the Set")

	for _, c := range []*Cache[string]{a, b} {
		for _, id := range []string{"x", "y"} {
			v, err := c.Get(ctx, id)
			require.NoError(t, err)
			assert.Equal(t, "v2", v, "%s on %s", id, c.e.cfg.origin)
		}
	}
}

// Under a size limit, Set replaces a cached slot's value in place, and a
// Set on a slot that holds nothing is admitted like a loaded value: it may
// be refused in favour of hotter slots (Set still returns nil: the old
// value is gone either way), and the limit holds.
func TestSetUnderMaxSlots(t *testing.T) {
	e := newEngine(t, WithTTL(time.Hour))
	c := newCache(t, e, "s", func(_ context.Context, id string) (string, error) { return "loaded:" + id, nil }, WithMaxSlots(2))
	ctx := context.Background()
	for range 20 {
		for _, id := range []string{"hot1", "hot2"} {
			_, err := c.Get(ctx, id)
			require.NoError(t, err)
		}
	}
	require.NoError(t, c.Set(ctx, "hot1", "set"))
	v, ok := c.Peek("hot1")
	assert.True(t, ok, "a cached slot takes the new value in place")
	assert.Equal(t, "set", v)

	require.NoError(t, c.Set(ctx, "cold", "set"))
	assert.False(t, c.Cached("cold"), "a newcomer is not admitted over hotter slots")
	assert.True(t, c.Cached("hot1"))
	assert.True(t, c.Cached("hot2"))
	assert.LessOrEqual(t, c.Stats().Slots, uint64(2))
	assert.EqualValues(t, 1, c.Stats().Rejected)
	assert.Zero(t, c.Stats().Uncached, "a refused admission counted as a behaviour's choice not to cache")
	v, err := c.Get(ctx, "cold")
	require.NoError(t, err)
	assert.Equal(t, "loaded:cold", v, "a refused Set leaves the slot to load")
}

// Under the staleness bound, a Set value is as fresh as the Set: with the
// link to Redis down (no watermark) it is served until the bound after the
// Set, not after the engine started, and then dropped like a loaded one.
func TestSetUnderStalenessBound(t *testing.T) {
	const bound = 200 * time.Millisecond
	e := newEngine(t, WithRedis(shortClient(t, "127.0.0.1:1")), WithHeartbeat(bound/2), WithMaxStaleness(bound),
		WithPublishTimeout(time.Millisecond), WithTTL(time.Hour))
	c := newCache(t, e, "s", func(context.Context, string) (string, error) { return "loaded", nil })
	require.Eventually(t, func() bool { return !c.e.env.Clock.Before(int64(2 * bound)) }, wait, time.Millisecond,
		"the engine is older than the bound")
	err := c.Set(context.Background(), "k", "set")
	require.ErrorIs(t, err, ErrQueued, "Redis is down: the invalidation waits in the outbox")
	v, ok := c.Peek("k")
	require.True(t, ok, "served: the bound counts from the Set")
	assert.Equal(t, "set", v)
	require.Eventually(t, func() bool { return !c.Cached("k") }, wait, time.Millisecond, "and dropped past the bound")
}
