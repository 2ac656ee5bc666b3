package slotcache

// Issue 14, two tiers with two lifetimes: a shared copy in Redis that
// outlives the local ones (FillPolicy.SharedTTL, Decision.SharedTTL), and
// the fleet-coordinated refresh-ahead of that copy, against a real
// redis-server per test. Helpers carry a tt prefix; the rt and ft helpers
// come from engine_redis_test.go and fill_test.go.

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
	require.Greater(t, ftPTTL(t, srv.Client(t), ch, "models"), ttLocal, "the shared copy lives longer than a local one")

	var late *Engine
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	// Until 1.6 s: well inside the shared lifetime, which began after start.
	for time.Since(start) < ttShared*80/100 {
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
	pttl := func(id string) time.Duration { return ftPTTL(t, client, ch, id) }
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

// ttStalls records the moments this process or Redis stalled (CPU
// starvation on a loaded machine, GC): a watchdog that pings Redis and
// sleeps 5 ms, again and again, notes every round that took gap longer
// than that. A stall longer than the local copy's refresh margin lets it
// expire before its refresh (a Redis round trip) could land, whatever the
// engine does; such a miss says nothing about the shared tier.
type ttStalls struct {
	mu   sync.Mutex
	ends []time.Time
}

func (s *ttStalls) watch(ctx context.Context, client *redis.Client, gap time.Duration) {
	for ctx.Err() == nil {
		t0 := time.Now()
		_ = client.Ping(ctx).Err()
		time.Sleep(5 * time.Millisecond)
		if time.Since(t0) > 5*time.Millisecond+gap {
			s.mu.Lock()
			s.ends = append(s.ends, time.Now())
			s.mu.Unlock()
		}
	}
}

// count is the number of stalls seen.
func (s *ttStalls) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ends)
}

// near reports whether a stall ended within d before (or just after) at.
func (s *ttStalls) near(at time.Time, d time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, end := range s.ends {
		if end.After(at.Add(-d)) && end.Before(at.Add(d/4)) {
			return true
		}
	}
	return false
}

// TestTiersFleetRefreshAhead: with RefreshAhead, a hot slot on three
// instances does not miss after each instance's first Get, while the
// source is called about once per shared lifetime, each time by one
// instance (the lease winner) in the background, for two shared lifetimes.
// Before issue 14 a refresh only read the shared copy, so every instance
// missed once the copy expired, and one loaded while the others waited.
//
// Misses are counted via Stats. The only ones excused are those right
// after this process or Redis stalled for longer than half the local
// refresh margin (50 ms: refresh at 150 ms, expiry at 200 ms), which
// happens on a shared 2-core machine; they are logged.
func TestTiersFleetRefreshAhead(t *testing.T) {
	const fraction = 0.75 // local refresh at 150 ms, shared at 1.5 s
	srv := redistest.Start(t)
	ch := rtChannel(t)
	es := ttFleet(t, srv, ch, 3, WithBehaviour(RefreshAhead(fraction)))
	var calls atomic.Int32
	load := ftCount(&calls, "v")
	begin := time.Now() // before the first source call
	for _, e := range es {
		_, err := ftGet(t, e, "hot", load) // the first Get of each instance misses
		require.NoError(t, err)
	}
	base := ftOutcomes(es...)

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 2*ttShared)
	defer cancel()
	var stalls ttStalls
	go stalls.watch(ctx, srv.Client(t), 25*time.Millisecond)
	type miss struct {
		instance int
		at       time.Time
	}
	misses := make(chan miss, 1024)
	errs := make(chan error, len(es))
	for i, e := range es {
		go func() {
			var err error
			for ctx.Err() == nil && err == nil {
				before := e.Stats().Misses
				_, err = e.Get(ctx, "hot", load)
				if e.Stats().Misses != before && ctx.Err() == nil {
					misses <- miss{i, time.Now()}
				}
				time.Sleep(2 * time.Millisecond) // a request every 2 ms on each instance
			}
			if ctx.Err() != nil {
				err = nil // the last Get may see the end of the run
			}
			errs <- err
		}()
	}
	for range es {
		require.NoError(t, <-errs)
	}
	elapsed := time.Since(begin)
	t.Logf("%d stalls of the process or Redis over %v", stalls.count(), elapsed)
	close(misses)
	for m := range misses {
		if !stalls.near(m.at, ttLocal) {
			t.Errorf("instance %d missed at %v, no stall of the process or Redis before it", m.instance, m.at.Sub(start))
			continue
		}
		t.Logf("instance %d missed at %v, right after the process or Redis stalled", m.instance, m.at.Sub(start))
	}

	var loads uint64
	for _, e := range es {
		loads += e.Stats().Loads
	}
	st := ftOutcomes(es...)
	n := uint64(calls.Load())
	require.Equal(t, n, loads, "every source call is one instance's load")
	require.Equal(t, n-1, st.FillSharedRefreshes-base.FillSharedRefreshes,
		"every call after the first was a lease winner's refresh of the shared copy")
	require.Equal(t, base.FillLeaderLoads, st.FillLeaderLoads, "no Get found the shared copy expired")
	require.GreaterOrEqual(t, n, uint64(2), "the shared copy was refreshed before it expired")
	perRefresh := time.Duration(fraction * float64(ttShared))
	require.LessOrEqual(t, n, uint64(elapsed/perRefresh)+1, "%d source calls in %v: more than one per shared refresh point", n, elapsed)
}

// keepMissingInRedis keeps a "not found" in Redis for an hour: the way to
// ask NegativeTTL for a long shared lifetime.
type keepMissingInRedis struct{ Base }

func (keepMissingInRedis) OnLoad(_ string, v any, d Decision) Decision {
	if v == nil {
		d.SharedTTL = time.Hour
	}
	return d
}

// The built-in behaviours decide both tiers: JitterTTL cuts both by the same
// share, NegativeTTL is short in both unless a later behaviour asks.
func TestTiersBuiltinsDecideBothTiers(t *testing.T) {
	start := Decision{TTL: time.Second, SharedTTL: 10 * time.Second}
	for range 20 {
		d := JitterTTL(0.5).OnLoad("s", "v", start)
		require.Less(t, d.TTL, start.TTL+1)
		require.InDelta(t, 10*float64(d.TTL), float64(d.SharedTTL), 10, "the same share of both lifetimes")
	}
	d := NegativeTTL(time.Millisecond).OnLoad("s", nil, start)
	require.Equal(t, Decision{TTL: time.Millisecond, SharedTTL: time.Millisecond}, d)
	d = NegativeTTL(time.Millisecond).OnLoad("s", "v", start)
	require.Equal(t, start, d, "values are not its business")
	d = Chain(NegativeTTL(time.Millisecond), keepMissingInRedis{}).OnLoad("s", nil, start)
	require.Equal(t, Decision{TTL: time.Millisecond, SharedTTL: time.Hour}, d)
}

// ttRefresh is a lease winner's refresh of a due shared copy in progress
// (see ttRefreshing).
type ttRefresh struct {
	srv    *redistest.Server
	client *redis.Client
	a, b   *Engine
	src    *ftSource
	gate   *ftGate // holds b's load from the source
}

// ttRefreshing starts a refresh of the shared tier by one instance: on two
// instances (fill policy p, shared copies living an hour and refreshed at
// half their life), a loads v1 and shares it; the copy is then made due,
// the source moves to v2, and a Get on b takes the lease, is served v1 at
// once, and reloads from the source, held at the gate until the test
// opens it.
func ttRefreshing(t *testing.T, p FillPolicy) *ttRefresh {
	t.Helper()
	r := &ttRefresh{srv: redistest.Start(t), src: ftNewSource()}
	r.client = r.srv.Client(t)
	ch := rtChannel(t)
	p.SharedTTL = time.Hour
	es := ftEngines(t, r.srv, ch, 2, p, WithTTL(time.Minute), WithBehaviour(RefreshAhead(0.5))) // due with 30 min left
	r.a, r.b = es[0], es[1]

	v, err := ftGet(t, r.a, "s", r.src.load)
	require.NoError(t, err)
	require.Equal(t, "v1", v)
	data, _ := ftKeys(t, r.client, ch, "s")
	require.NoError(t, r.client.PExpire(context.Background(), data, 10*time.Minute).Err()) // due now

	r.src.version.Store(2)
	r.gate = r.src.hold()
	v, err = ftGet(t, r.b, "s", r.src.load)
	require.NoError(t, err)
	require.Equal(t, "v1", v, "the lease winner serves the due copy at once")
	r.gate.awaitCall(t) // b reloads v2 from the source for the fleet
	return r
}

// TestTiersInvalidateOvertakesSharedRefresh: an Invalidate (or an
// InvalidateAll) while a lease winner reloads the shared copy from the
// source drops both tiers; the refresher's value, loaded before the
// invalidation, is neither shared nor cached, and the copy it served
// meanwhile is gone too: the next Gets on both instances return the
// source's newest value.
func TestTiersInvalidateOvertakesSharedRefresh(t *testing.T) {
	for _, tc := range []struct {
		name       string
		invalidate func(*Engine) error
	}{
		{"Invalidate", func(e *Engine) error { return e.Invalidate(context.Background(), "s") }},
		{"InvalidateAll", func(e *Engine) error { return e.InvalidateAll(context.Background()) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ttRefreshing(t, FillPolicy{})
			a, b := r.a, r.b

			r.src.version.Store(3)
			require.NoError(t, tc.invalidate(a))
			// InvalidateAll retires the namespace: look in the current one.
			data, _ := ftKeys(t, r.client, a.Channel(), "s")
			require.False(t, ftExists(t, r.client, data), "the shared copy is gone when %s returns", tc.name)
			r.gate.open()
			// The refresh ends (its outcome is counted when it does)
			// without sharing v2: its slot refuses to share a load that
			// the invalidation overtook, or, if the invalidation's message
			// had not reached b yet, its commit is refused because the
			// invalidation deleted its lease (Invalidate), or lands in the
			// retired namespace, where nobody looks (InvalidateAll).
			require.Eventually(t, func() bool {
				st := b.Stats()
				return st.FillSharedRefreshes+st.FillStaleCommitsRejected == 1
			}, rtWait, rtPoll)
			require.False(t, ftExists(t, r.client, data), "the overtaken refresh shared its value")

			v, err := ftGet(t, a, "s", r.src.load)
			require.NoError(t, err)
			require.Equal(t, "v3", v, "the invalidating instance")
			// b drops its served copy when the invalidation reaches it.
			require.Eventually(t, func() bool {
				v, err := ftGet(t, b, "s", r.src.load)
				return err == nil && v == "v3"
			}, rtWait, rtPoll)
			v, err = ftGet(t, b, "s", r.src.load)
			require.NoError(t, err)
			require.Equal(t, "v3", v)
		})
	}
}

// TestTiersRedisKilledMidSharedRefresh: Redis dies while a lease winner
// reloads a due shared copy. The winner served the copy meanwhile; its
// commit fails, and it caches the source's new value locally; no Get on
// any instance fails.
func TestTiersRedisKilledMidSharedRefresh(t *testing.T) {
	r := ttRefreshing(t, FillPolicy{OpTimeout: 100 * time.Millisecond})
	a, b := r.a, r.b

	r.srv.Kill()
	r.gate.open()
	require.Eventually(t, func() bool { return b.Stats().FillDegraded == 1 }, rtWait, rtPoll, "the commit did not fail")
	require.Zero(t, b.Stats().FillSharedRefreshes, "counted as degraded, not as a refresh")
	v, err := ftGet(t, b, "s", r.src.load)
	require.NoError(t, err)
	require.Equal(t, "v2", v, "the refreshed value is cached where it was loaded")
	require.True(t, b.Cached("s"))
	v, err = ftGet(t, a, "s", r.src.load)
	require.NoError(t, err)
	require.Equal(t, "v1", v, "a keeps its copy: Redis could tell it nothing")
	require.Equal(t, int32(2), r.src.calls.Load(), "a's load and b's refresh")
}
