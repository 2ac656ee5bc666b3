package slotcache

// Issue 14, two tiers with two lifetimes: a shared copy in Redis that
// outlives the local ones (FillPolicy.SharedTTL, Decision.SharedTTL), and
// the fleet-coordinated refresh-ahead of that copy, against a real
// redis-server per test. Helpers carry a tt prefix; the rt and ft helpers
// come from engine_redis_test.go and fill_test.go.

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/internal/redistest"
)

// The scenario of the issue: each instance keeps a value 200 ms, Redis
// keeps it 2 s.
const (
	ttLocal  = 200 * time.Millisecond
	ttShared = 2 * time.Second
)

// ttFleet returns n engines with the scenario's two lifetimes.
func ttFleet(t *testing.T, srv *redistest.Server, ch string, n int, opts ...Option) []*Engine {
	t.Helper()
	return ftEngines(t, srv, ch, n, FillPolicy{SharedTTL: ttShared}, append([]Option{WithTTL(ttLocal)}, opts...)...)
}

// TestTiersSharedCopyOutlivesLocal: three instances serve a slot for most
// of the shared lifetime with one call of the source, although each one's
// local copy lives only a tenth of it; an instance started at 1 s fills
// from Redis. With one lifetime for both tiers (the code before issue 14)
// the source is called again every 200 ms.
func TestTiersSharedCopyOutlivesLocal(t *testing.T) {
	srv := redistest.Start(t)
	ch := rtChannel(t)
	es := ttFleet(t, srv, ch, 3)
	var calls atomic.Int32
	load := ftCount(&calls, "v")

	start := time.Now()
	v, err := ftGet(t, es[0], "models", load)
	require.NoError(t, err)
	require.Equal(t, "v#1", v)
	data, _ := ftKeys(t, srv.Client(t), ch, "models")
	pttl, err := srv.Client(t).PTTL(context.Background(), data).Result()
	require.NoError(t, err)
	require.Greater(t, pttl, ttLocal, "the shared copy lives longer than a local one")

	var late *Engine
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	// Until 1.7 s: well inside the shared lifetime, which began after start.
	for time.Since(start) < ttShared*85/100 {
		for _, e := range es {
			v, err := ftGet(t, e, "models", load)
			require.NoError(t, err)
			require.Equal(t, "v#1", v)
		}
		if late == nil && time.Since(start) >= time.Second {
			late = ttFleet(t, srv, ch, 1)[0]
			v, err := ftGet(t, late, "models", load)
			require.NoError(t, err)
			require.Equal(t, "v#1", v, "the new instance got the shared copy")
			st := late.Stats()
			require.Equal(t, uint64(1), st.FillSharedHits, "the new instance filled from Redis")
			require.Zero(t, st.Loads)
		}
		<-tick.C
	}
	require.NotNil(t, late)
	require.Equal(t, int32(1), calls.Load(), "the source was called once for the fleet within the shared lifetime")
	for i, e := range es {
		// Each local copy expired several times and was refilled from Redis.
		require.GreaterOrEqual(t, e.Stats().FillSharedHits, uint64(3), "instance %d", i)
	}
}

// TestTiersInvalidateDropsBothTiers: Invalidate and InvalidateAll drop the
// shared copy and every instance's local copy, however long the shared
// lifetime; the next Gets load once for the fleet.
func TestTiersInvalidateDropsBothTiers(t *testing.T) {
	for _, tc := range []struct {
		name       string
		invalidate func(*Engine) error
	}{
		{"Invalidate", func(e *Engine) error { return e.Invalidate(context.Background(), "models") }},
		{"InvalidateAll", func(e *Engine) error { return e.InvalidateAll(context.Background()) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t)
			client := srv.Client(t)
			ch := rtChannel(t)
			// A local TTL long enough that only the invalidation can end it.
			es := ftEngines(t, srv, ch, 3, FillPolicy{SharedTTL: time.Hour}, WithTTL(time.Minute))
			var calls atomic.Int32
			load := ftCount(&calls, "v")
			for _, e := range es {
				v, err := ftGet(t, e, "models", load)
				require.NoError(t, err)
				require.Equal(t, "v#1", v)
			}
			data, _ := ftKeys(t, client, ch, "models")
			require.True(t, ftExists(t, client, data))

			require.NoError(t, tc.invalidate(es[1]))
			// InvalidateAll retires the namespace: look in the current one.
			data, _ = ftKeys(t, client, ch, "models")
			require.False(t, ftExists(t, client, data), "the shared copy is gone when %s returns", tc.name)
			for i, e := range es {
				require.Eventually(t, func() bool { return !e.Cached("models") }, rtWait, rtPoll, "instance %d kept its local copy", i)
			}
			for _, e := range es {
				v, err := ftGet(t, e, "models", load)
				require.NoError(t, err)
				require.Equal(t, "v#2", v)
			}
			require.Equal(t, int32(2), calls.Load(), "one load for the fleet after the invalidation")
		})
	}
}

// TestTiersBehaviourDecidesSharedTTL: a long FillPolicy.SharedTTL applies to
// values, not to "not found": NegativeTTL is short in Redis too, and
// TTLFromValue sets both tiers.
func TestTiersBehaviourDecidesSharedTTL(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client(t)
	ch := rtChannel(t)
	fromValue := TTLFromValue(func(_ string, v any) (time.Duration, bool) {
		d, ok := v.(float64) // a lifetime in seconds, as JSON gives it back
		return time.Duration(d * float64(time.Second)), ok
	})
	es := ftEngines(t, srv, ch, 1, FillPolicy{SharedTTL: time.Hour}, WithTTL(time.Minute),
		WithBehaviour(Chain(NegativeTTL(time.Second), fromValue)))
	for id, v := range map[string]any{"gone": nil, "value": "x", "token": float64(3)} {
		_, err := ftGet(t, es[0], id, func(context.Context, string) (any, error) { return v, nil })
		require.NoError(t, err)
	}
	pttl := func(id string) time.Duration {
		data, _ := ftKeys(t, client, ch, id)
		d, err := client.PTTL(context.Background(), data).Result()
		require.NoError(t, err)
		return d
	}
	require.LessOrEqual(t, pttl("gone"), time.Second, "a not-found must not live SharedTTL in Redis")
	require.Greater(t, pttl("value"), time.Minute, "a value lives SharedTTL in Redis")
	require.LessOrEqual(t, pttl("token"), 3*time.Second, "TTLFromValue sets the shared lifetime too")
	require.Greater(t, pttl("token"), time.Second)
}

func TestTiersSharedTTLValidation(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client(t)
	for _, tc := range []struct {
		name string
		opts []Option
		want string
	}{
		{"shorter than the TTL", []Option{WithRedis(client), WithTTL(time.Second), WithFill(FillPolicy{SharedTTL: 500 * time.Millisecond})},
			"WithFill: SharedTTL (500ms) must be at least the TTL (1s, WithTTL)"},
		{"TTL raised after WithFill", []Option{WithRedis(client), WithFill(FillPolicy{SharedTTL: time.Second}), WithTTL(time.Minute)},
			"WithFill: SharedTTL (1s) must be at least the TTL (1m0s, WithTTL)"},
		{"negative", []Option{WithRedis(client), WithFill(FillPolicy{SharedTTL: -time.Second})},
			"WithFill: SharedTTL must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New(tc.opts...)
			require.Nil(t, e)
			require.ErrorContains(t, err, tc.want)
		})
	}
	for _, p := range []FillPolicy{{}, {SharedTTL: time.Minute}, {SharedTTL: 24 * time.Hour}} {
		e, err := New(WithRedis(client), WithTTL(time.Minute), WithFill(p))
		require.NoError(t, err)
		require.NoError(t, e.Close())
	}
}
