package slotcache

// WithFill combined with the features a user turns on beside it: the slot
// limit (WithMaxSlots), named caches (NewCache), stale-while-revalidate,
// and a behaviour that takes both lifetimes from the value with
// refresh-ahead (Redis dying while a lease winner refreshes the shared copy
// is in tiers_test.go, with the refresh's other tests). Each
// feature has its own tests; these pin down where two meet. Helpers come
// from fill_test.go (ft) and engine_redis_test.go (rt).

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/internal/redistest"
)

// A shared hit on an instance whose slot limit is full of a hotter slot is
// answered but not admitted: the hot slot stays, the newcomer's loader is
// never called there, and the next Get reads the shared copy again rather
// than loading.
func TestFillSharedHitRejectedByFullBound(t *testing.T) {
	srv := redistest.Start(t)
	ch := rtChannel(t)
	a := ftEngines(t, srv, ch, 1, FillPolicy{})[0]
	b := ftEngines(t, srv, ch, 1, FillPolicy{}, WithMaxSlots(1))[0]
	var hot, cold atomic.Int32
	for range 50 {
		v, err := ftGet(t, b, "hot", ftCount(&hot, "hot"))
		require.NoError(t, err)
		require.Equal(t, "hot#1", v)
	}
	v, err := ftGet(t, a, "cold", ftCount(&cold, "cold"))
	require.NoError(t, err)
	require.Equal(t, "cold#1", v)

	for i := range 2 {
		v, err := ftGet(t, b, "cold", ftCount(&cold, "cold"))
		require.NoError(t, err)
		require.Equal(t, "cold#1", v, "Get %d on the full instance", i)
		require.False(t, b.Cached("cold"), "the newcomer was admitted over the hot slot")
	}
	st := b.Stats()
	require.Equal(t, uint64(2), st.FillSharedHits, "both Gets read the shared copy")
	require.Equal(t, uint64(2), st.Rejected)
	require.Zero(t, st.EvictedSize)
	require.True(t, b.Cached("hot"))
	require.Equal(t, int32(1), cold.Load(), "only the instance that led loaded")
}

// A leader whose commit is rejected on an instance whose slot limit is
// full neither caches its value nor makes room for it: the slot it would
// have evicted stays, and the newer value from the shared tier is read
// next.
func TestFillRejectedCommitUnderFullBound(t *testing.T) {
	var calls, hot atomic.Int32
	warm := func(a *Engine) {
		v, err := ftGet(t, a, "hot", ftCount(&hot, "hot"))
		require.NoError(t, err)
		require.Equal(t, "hot#1", v)
		require.True(t, a.Cached("hot"))
	}
	es, _ := ftOvertakenLeader(t, 2, "slow", &calls, warm, WithMaxSlots(1))
	a := es[0]
	st := a.Stats()
	require.True(t, a.Cached("hot"), "a rejected commit evicted the slot it could never replace")
	require.False(t, a.Cached("s"))
	require.Zero(t, st.EvictedSize)
	require.Zero(t, st.Rejected, "a rejected commit asked the bound for room")

	v, err := ftGet(t, a, "s", ftCount(&calls, "more"))
	require.NoError(t, err)
	require.Equal(t, "second#1", v)
	require.Equal(t, int32(1), hot.Load())
}

// Named caches with WithFill share values per cache, never across caches:
// each one's shared tier lives under its own key prefix (its channel), so
// the same slot ID in two caches holds two values on every instance, and
// invalidating one cache leaves the other's shared copy alone.
func TestFillNamedCachesKeepTheirOwnSharedCopies(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client(t)
	ch := rtChannel(t)
	ctx := context.Background()
	var userLoads, teamLoads atomic.Int32
	users := func(_ context.Context, id string) (string, error) {
		userLoads.Add(1)
		return "user " + id, nil
	}
	teams := func(_ context.Context, id string) (int, error) {
		teamLoads.Add(1)
		return len(id) * 10, nil
	}
	type instance struct {
		users *Cache[string]
		teams *Cache[int]
	}
	var fleet []instance
	for range 2 {
		e := rtEngine(t, srv.Client(t), ch)
		in := instance{newCache(t, e, "users", users, WithFill(FillPolicy{})), newCache(t, e, "teams", teams, WithFill(FillPolicy{}))}
		require.NoError(t, in.users.WaitReady(ctx))
		require.NoError(t, in.teams.WaitReady(ctx))
		fleet = append(fleet, in)
	}
	for i, in := range fleet {
		u, err := in.users.Get(ctx, "42")
		require.NoError(t, err)
		require.Equal(t, "user 42", u, "instance %d", i)
		n, err := in.teams.Get(ctx, "42")
		require.NoError(t, err, "instance %d read the other cache's shared copy", i)
		require.Equal(t, 20, n, "instance %d", i)
	}
	require.Equal(t, int32(1), userLoads.Load(), "one load per cache for the fleet")
	require.Equal(t, int32(1), teamLoads.Load(), "one load per cache for the fleet")
	require.Equal(t, uint64(1), fleet[1].users.Stats().FillSharedHits)
	require.Equal(t, uint64(1), fleet[1].teams.Stats().FillSharedHits)

	userData, _ := ftKeys(t, client, fleet[0].users.Channel(), "42")
	teamData, _ := ftKeys(t, client, fleet[0].teams.Channel(), "42")
	require.NotEqual(t, userData, teamData)
	require.NoError(t, fleet[0].users.Invalidate(ctx, "42"))
	require.False(t, ftExists(t, client, userData), "the invalidated cache's shared copy is gone")
	require.True(t, ftExists(t, client, teamData), "invalidating one cache dropped another's shared copy")
	require.True(t, fleet[1].teams.Cached("42"))
}

// Stale-while-revalidate with the shared tier down and the source failing:
// every Get keeps returning the stale value without error while background
// reloads (degraded to local loads) fail; once the source is back, a
// reload replaces it, cached locally although Redis is still down.
func TestFillStaleWhileRevalidateWithSharedTierDown(t *testing.T) {
	srv := redistest.Start(t)
	e := ftEngines(t, srv, rtChannel(t), 1, FillPolicy{OpTimeout: 100 * time.Millisecond},
		WithTTL(50*time.Millisecond), WithBehaviour(StaleWhileRevalidate(time.Hour)))[0]
	var version atomic.Int64
	version.Store(1)
	var down atomic.Bool
	load := func(context.Context, string) (any, error) {
		if down.Load() {
			return nil, errors.New("source down")
		}
		return "v" + strconv.FormatInt(version.Load(), 10), nil
	}
	v, err := ftGet(t, e, "s", load)
	require.NoError(t, err)
	require.Equal(t, "v1", v)
	require.Equal(t, uint64(1), e.Stats().FillLeaderLoads, "the scenario: the value went through the shared tier")

	srv.Kill()
	down.Store(true)
	version.Store(2)
	var last result // of the Get that ended the wait
	require.Eventually(t, func() bool {
		last.v, last.err = ftGet(t, e, "s", load)
		return last.err != nil || last.v != "v1" || e.Stats().LoadErrors >= 2
	}, rtWait, rtPoll, "the stale value was never reloaded")
	require.NoError(t, last.err, "a Get failed while a stale value could be served")
	require.Equal(t, "v1", last.v)
	require.Positive(t, e.Stats().FillDegraded, "the reloads skipped the shared tier")

	down.Store(false)
	require.Eventually(t, func() bool {
		v, err := ftGet(t, e, "s", load)
		return err == nil && v == "v2"
	}, rtWait, rtPoll, "the stale value was never replaced once the source was back")
}

// TTLFromValue decides both lifetimes and RefreshAhead then refreshes the
// shared copy within the value's own lifetime, however long
// FillPolicy.SharedTTL is: the copy's refresh point is the same fraction
// of the value's TTL, and the instance that finds it due reloads it from
// the source for the fleet.
func TestFillTTLFromValueWithSharedTTLAndRefreshAhead(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client(t)
	ch := rtChannel(t)
	fromValue := TTLFromValue(func(_ string, v any) (time.Duration, bool) {
		s, ok := v.(string) // "<seconds>s#<call>", as ftCount makes them
		if !ok {
			return 0, false
		}
		d, err := time.ParseDuration(s[:len(s)-2])
		return d, err == nil
	})
	es := ftEngines(t, srv, ch, 2, FillPolicy{SharedTTL: 24 * time.Hour}, WithTTL(time.Minute),
		WithBehaviour(Chain(fromValue, RefreshAhead(0.5))))
	a, b := es[0], es[1]
	var calls atomic.Int32

	v, err := ftGet(t, a, "token", ftCount(&calls, "20s"))
	require.NoError(t, err)
	require.Equal(t, "20s#1", v)
	data, _ := ftKeys(t, client, ch, "token")
	pttl, err := client.PTTL(context.Background(), data).Result()
	require.NoError(t, err)
	require.LessOrEqual(t, pttl, 20*time.Second, "the value's lifetime, not SharedTTL, holds in Redis")
	require.Greater(t, pttl, 10*time.Second)
	due, err := client.Get(context.Background(), data+":refresh").Int64()
	require.NoError(t, err)
	require.Equal(t, int64(10000), due, "refreshed with half of the value's lifetime left")

	// Half of the value's lifetime has gone: b finds the copy due, serves
	// it at once and reloads it from the source for the fleet.
	require.NoError(t, client.PExpire(context.Background(), data, 9*time.Second).Err())
	v, err = ftGet(t, b, "token", ftCount(&calls, "20s"))
	require.NoError(t, err)
	require.Equal(t, "20s#1", v, "the due copy is served while it is reloaded")
	require.Eventually(t, func() bool { return b.Stats().FillSharedRefreshes == 1 && b.Stats().Loads == 1 }, rtWait, rtPoll)
	require.Eventually(t, func() bool {
		pttl, err := client.PTTL(context.Background(), data).Result()
		return err == nil && pttl > 10*time.Second
	}, rtWait, rtPoll, "the refreshed copy was not rewritten for the value's lifetime")
	got, err := client.Get(context.Background(), data).Result()
	require.NoError(t, err)
	require.Contains(t, got, "20s#2")
	require.Equal(t, int32(2), calls.Load())
}

// A named cache's fill notices reach its followers through the
// subscription it shares with its engine: a follower on another instance
// is woken by the leader's commit, not by polling (its polls are set far
// beyond the time the test takes).
func TestFillNamedCacheFollowerWokenByNotice(t *testing.T) {
	srv := redistest.Start(t)
	ch := rtChannel(t)
	ctx := context.Background()
	p := FillPolicy{Lease: 3 * time.Minute, Wait: 2 * time.Minute, PollMin: time.Minute, PollMax: time.Minute}
	g := ftNewGate(func(int32) (any, error) { return "v", nil })
	load := func(ctx context.Context, id string) (string, error) {
		v, err := g.load(ctx, id)
		s, _ := v.(string)
		return s, err
	}
	var caches []*Cache[string]
	for range 2 {
		e := rtEngine(t, srv.Client(t), ch, WithLoadTimeout(5*time.Minute))
		c := newCache(t, e, "models", load, WithFill(p), WithLoadTimeout(5*time.Minute))
		require.NoError(t, c.WaitReady(ctx))
		caches = append(caches, c)
	}
	a, b := caches[0], caches[1]

	leader := make(chan result, 1)
	go func() { v, err := a.Get(ctx, "s"); leader <- result{v, err} }()
	g.awaitCall(t)
	follower := make(chan result, 1)
	go func() { v, err := b.Get(ctx, "s"); follower <- result{v, err} }()
	require.Eventually(t, func() bool { return b.Stats().FillWaiting == 1 }, rtWait, rtPoll)
	g.open()
	require.Equal(t, "v", await(t, leader).v)
	r := await(t, follower)
	require.NoError(t, r.err)
	require.Equal(t, "v", r.v)
	require.Equal(t, uint64(1), b.Stats().FillFollowerWoken)
	require.Equal(t, int32(1), g.calls.Load())
}
