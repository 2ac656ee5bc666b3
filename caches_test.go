package slotcache

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/slotcache/slotcache/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// Named caches are independent caches (TTL, size, stats, invalidations)
// over one actor system and one clock.
func TestNamedCachesAreIndependent(t *testing.T) {
	root := newEngine(t, WithTTL(time.Hour))
	configs, err := root.namedForTest("provider-config", WithTTL(20*time.Millisecond))
	require.NoError(t, err)
	activations, err := root.namedForTest("channel-activation", WithMaxSlots(2))
	require.NoError(t, err)
	assert.Same(t, root.host.system, configs.host.system, "one actor system")
	assert.Same(t, root.env.Clock, activations.env.Clock, "one clock")
	assert.Equal(t, "provider-config", configs.name)
	assert.Equal(t, DefaultChannel+":provider-config", configs.Channel())
	assert.Equal(t, time.Hour, activations.TTL(), "settings are inherited unless given")

	var calls atomic.Int32
	for _, c := range []*Engine{root, configs, activations} {
		assert.Equal(t, "v", mustGet(t, c, "same-id", constLoader(&calls, "v")))
	}
	assert.EqualValues(t, 3, calls.Load(), "the same slot ID is a different slot in each cache")
	require.NoError(t, activations.Invalidate(context.Background(), "same-id"))
	assert.False(t, activations.Cached("same-id"))
	assert.True(t, root.Cached("same-id"))
	require.Eventually(t, func() bool { return !configs.Cached("same-id") }, wait, time.Millisecond, "its own TTL")
	assert.True(t, root.Cached("same-id"))

	for _, id := range []string{"a", "b", "c", "d"} {
		mustGet(t, activations, id, constLoader(&calls, id))
	}
	assert.LessOrEqual(t, activations.Stats().Slots, uint64(2), "its own size limit")
	assert.EqualValues(t, 1, root.Stats().Loads, "its own stats")
	assert.EqualValues(t, 1, configs.Stats().Loads)
}

func TestNamedCacheErrorsAndLifecycle(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	root, err := New()
	require.NoError(t, err)
	c, err := root.namedForTest("x")
	require.NoError(t, err)
	_, err = root.namedForTest("x")
	assert.ErrorContains(t, err, `"x"`, "a name is unique while open")
	_, err = root.namedForTest("")
	assert.Error(t, err)
	_, err = root.namedForTest("bad", WithTTL(0))
	assert.ErrorContains(t, err, "WithTTL")

	var calls atomic.Int32
	mustGet(t, c, "k", constLoader(&calls, 1))
	require.NoError(t, c.Close())
	_, err = c.Get(context.Background(), "k", constLoader(&calls, 1))
	assert.ErrorIs(t, err, ErrClosed)
	mustGet(t, root, "k", constLoader(&calls, 1)) // the root lives on

	again, err := root.namedForTest("x") // the name is free again
	require.NoError(t, err)
	mustGet(t, again, "k", constLoader(&calls, 1))
	require.NoError(t, root.Close())
	_, err = again.Get(context.Background(), "k", constLoader(&calls, 1))
	assert.ErrorIs(t, err, ErrClosed, "closing the root closes its caches")
	_, err = root.namedForTest("y")
	assert.ErrorIs(t, err, ErrClosed)
}

// Across instances, a named cache hears only its own channel.
func TestNamedCachesAcrossInstances(t *testing.T) {
	srv := redistest.Start(t)
	newRoot := func() *Engine {
		client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
		t.Cleanup(func() { _ = client.Close() })
		return newEngine(t, WithRedis(client), WithChannel("app"), WithHeartbeat(time.Second))
	}
	a, b := newRoot(), newRoot()
	ax, err := a.namedForTest("x")
	require.NoError(t, err)
	bx, err := b.namedForTest("x")
	require.NoError(t, err)
	by, err := b.namedForTest("y")
	require.NoError(t, err)
	for _, c := range []*Engine{ax, bx, by} {
		require.NoError(t, c.WaitReady(context.Background()))
	}
	var calls atomic.Int32
	mustGet(t, bx, "k", constLoader(&calls, 1))
	mustGet(t, by, "k", constLoader(&calls, 1))
	require.NoError(t, ax.Invalidate(context.Background(), "k"))
	require.Eventually(t, func() bool { return !bx.Cached("k") }, wait, time.Millisecond)
	assert.True(t, by.Cached("k"), "cache y is on another channel")
	assert.EqualValues(t, 1, bx.Stats().CrossProcessInvalidations)
	assert.Zero(t, b.Stats().CrossProcessInvalidations)

	// One subscription per instance: named caches ride on their root's.
	assert.Nil(t, bx.bridge)
	assert.Same(t, b.bridge, bx.sub.Bridge())
	probe := srv.Client(t)
	subscribers, err := probe.PubSubNumSub(context.Background(), "app:x", "app:y").Result()
	require.NoError(t, err)
	assert.EqualValues(t, 2, subscribers["app:x"], "instances a and b")
	assert.EqualValues(t, 1, subscribers["app:y"])

	// A closed named cache leaves the shared subscription.
	require.NoError(t, by.Close())
	require.Eventually(t, func() bool {
		n, err := probe.PubSubNumSub(context.Background(), "app:y").Result()
		return err == nil && n["app:y"] == 0
	}, wait, 5*time.Millisecond)
	mustGet(t, bx, "k", constLoader(&calls, 1))
	require.NoError(t, ax.Invalidate(context.Background(), "k"))
	require.Eventually(t, func() bool { return !bx.Cached("k") }, wait, time.Millisecond, "the others still hear")
}

// When the shared subscription drops, every named cache on it resyncs.
func TestNamedCachesResyncWithTheirRoot(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client(t)
	root := newEngine(t, WithRedis(client), WithChannel("app"), WithHeartbeat(time.Second))
	named, err := root.namedForTest("x")
	require.NoError(t, err)
	require.NoError(t, root.WaitReady(context.Background()))
	require.NoError(t, named.WaitReady(context.Background()))
	var calls atomic.Int32
	mustGet(t, root, "k", constLoader(&calls, 1))
	mustGet(t, named, "k", constLoader(&calls, 1))

	srv.KillPubSubClients()
	require.Eventually(t, func() bool {
		return root.Stats().Subscriptions >= 2 && named.Stats().Subscriptions >= 2
	}, wait, 5*time.Millisecond)
	assert.False(t, root.Cached("k"), "flushed: messages may have been lost")
	assert.False(t, named.Cached("k"), "flushed: messages may have been lost")
}

// namedForTest is the named-cache machinery that NewCache wraps, untyped,
// so that these tests can use per-call loaders.
func (e *Engine) namedForTest(name string, opts ...Option) (*Engine, error) {
	return e.named(name, opts)
}

// A cache uses its engine's Redis client or one given with WithRedis; the
// options that make the engine dial a client of its own (FromEnv's Redis
// URLs, WithSentinel) apply to New only, and NewCache says so instead of
// quietly running the cache on the engine's client, or on none.
func TestNewCacheRefusesDiallingOptions(t *testing.T) {
	e := newEngine(t) // no Redis
	load := func(context.Context, string) (int, error) { return 1, nil }
	t.Setenv("REDIS_URL", "redis://127.0.0.1:1/0")
	for name, opt := range map[string]Option{
		"FromEnv":      FromEnv(),
		"WithSentinel": WithSentinel(&redis.FailoverOptions{MasterName: "m", SentinelAddrs: []string{"127.0.0.1:1"}}),
	} {
		_, err := NewCache(e, name, load, opt)
		var oe *OptionError
		require.ErrorAs(t, err, &oe, name)
		assert.Equal(t, name, oe.Option)
	}
	t.Setenv("REDIS_URL", "")
	_, err := NewCache(e, "env-ttl", load, FromEnv())
	assert.NoError(t, err, "FromEnv without a Redis URL only tunes the cache")
}
