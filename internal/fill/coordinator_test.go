package fill

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/internal/core"

	"github.com/slotcache/slotcache/internal/redistest"
)

func TestLeaderCommitsThenSharedHit(t *testing.T) {
	r := newRig(t)
	a, b := r.coord(), r.coord()
	l := newLoader(values("v"))

	got := load(t, a, "s", l.load)
	require.NoError(t, got.err)
	require.Equal(t, "v#1", got.v)
	require.Equal(t, core.LoadedHere, got.src, "the leader's value is its own")
	require.Equal(t, map[string]uint64{"leader_load": 1}, outcomes(a))

	k := r.keys("s")
	require.True(t, r.exists(k.data))
	require.False(t, r.exists(k.lock), "the commit released the lock")

	got = load(t, b, "s", l.load)
	require.NoError(t, got.err)
	require.Equal(t, "v#1", got.v)
	require.Equal(t, core.SharedCopy, got.src)
	require.Positive(t, got.ttl)
	require.LessOrEqual(t, got.ttl, time.Hour, "shared for what decide said")
	require.Equal(t, map[string]uint64{"shared_hit": 1}, outcomes(b))
	require.Equal(t, int32(1), l.calls.Load())
}

// TestSharedHitKeepsRemainingTTL checks that local and shared expiry stay in
// sync: a shared hit is cached for what is left of the data key's life.
func TestSharedHitKeepsRemainingTTL(t *testing.T) {
	r := newRig(t)
	a, b := r.coord(), r.coord()
	require.NoError(t, load(t, a, "s", newLoader(values("v")).load).err)
	require.NoError(t, r.client.PExpire(context.Background(), r.keys("s").data, 1234*time.Millisecond).Err())

	got := load(t, b, "s", newLoader(values("other")).load)
	require.Equal(t, "v#1", got.v)
	require.Positive(t, got.ttl)
	require.LessOrEqual(t, got.ttl, 1234*time.Millisecond)
}

// TestNilAndBytesAreShared checks the envelope end to end: nil is cached
// too, with an explicit marker, and byte slices pass through the codec.
func TestNilAndBytesAreShared(t *testing.T) {
	r := newRig(t)
	a, b := r.coord(func(c *Config) { c.Codec = panicCodec{} }), r.coord(func(c *Config) { c.Codec = panicCodec{} })
	nilLoader := newLoader(func(int32) (any, error) { return nil, nil })
	bytesLoader := newLoader(func(int32) (any, error) { return []byte{0, 1, 2}, nil })

	require.NoError(t, load(t, a, "nil", nilLoader.load).err)
	require.NoError(t, load(t, a, "bytes", bytesLoader.load).err)
	stored, err := r.client.Get(context.Background(), r.keys("nil").data).Result()
	require.NoError(t, err)
	require.Equal(t, "n", stored)

	got := load(t, b, "nil", nilLoader.load)
	require.NoError(t, got.err)
	require.Nil(t, got.v)
	got = load(t, b, "bytes", bytesLoader.load)
	require.Equal(t, []byte{0, 1, 2}, got.v)
	require.Equal(t, map[string]uint64{"shared_hit": 2}, outcomes(b))
	require.Equal(t, int32(1), nilLoader.calls.Load())
	require.Equal(t, int32(1), bytesLoader.calls.Load())
}

// TestStampedeLoadsOnce runs many coordinators at once on a cold slot.
func TestStampedeLoadsOnce(t *testing.T) {
	r := newRig(t)
	r.relay()
	const n = 8
	l := gatedLoader(values("v"))
	var results []<-chan result
	for range n {
		results = append(results, loadAsync(context.Background(), r.coord(), "s", l.load))
	}
	l.awaitCall(t)
	// Hold the leader until every other coordinator waits on it.
	require.Eventually(t, func() bool {
		waiting := int64(0)
		for _, c := range r.coords {
			waiting += c.Stats().Waiting
		}
		return waiting == n-1
	}, waitFor, tick)
	l.open()
	for _, ch := range results {
		got := await(t, ch)
		require.NoError(t, got.err)
		require.Equal(t, "v#1", got.v)
	}
	require.Equal(t, int32(1), l.calls.Load())
}

// TestFollowerWokenByNotice checks that a follower reads the value as soon
// as the commit notice arrives, not at its next poll: its polls are set far
// beyond the time the test takes.
func TestFollowerWokenByNotice(t *testing.T) {
	r := newRig(t)
	r.relay()
	slowPolls := func(c *Config) {
		c.PollMin, c.PollMax, c.Wait, c.Lease = time.Minute, time.Minute, 2*time.Minute, 3*time.Minute
	}
	a, b := r.coord(slowPolls), r.coord(slowPolls)
	l := gatedLoader(values("v"))

	leader := loadAsync(context.Background(), a, "s", l.load)
	l.awaitCall(t)
	follower := loadAsync(context.Background(), b, "s", l.load)
	awaitFollowing(t, b, 1)
	l.open()

	require.Equal(t, "v#1", await(t, leader).v)
	got := await(t, follower)
	require.NoError(t, got.err)
	require.Equal(t, "v#1", got.v)
	require.Equal(t, map[string]uint64{"follower_woken": 1}, outcomes(b))
	require.Zero(t, b.Stats().Waiting)
	require.Equal(t, int32(1), l.calls.Load())
}

// TestFollowerPollsWithoutNotices checks the fallback: with every notice
// lost (no channel), a follower still finds the value by polling.
func TestFollowerPollsWithoutNotices(t *testing.T) {
	r := newRig(t)
	quiet := func(c *Config) { c.Channel = "" }
	a, b := r.coord(quiet), r.coord(quiet)
	l := gatedLoader(values("v"))

	leader := loadAsync(context.Background(), a, "s", l.load)
	l.awaitCall(t)
	follower := loadAsync(context.Background(), b, "s", l.load)
	awaitFollowing(t, b, 1)
	l.open()

	require.Equal(t, "v#1", await(t, leader).v)
	got := await(t, follower)
	require.Equal(t, "v#1", got.v, "a: %v b: %v logs: %v", outcomes(a), outcomes(b), r.logs.records(t))
	require.Equal(t, map[string]uint64{"follower_polled": 1}, outcomes(b))
	require.Equal(t, int32(1), l.calls.Load())
}

// TestFollowerTimeoutLoadsLocally: a leader that holds the lock past Wait
// leaves its followers to load on their own.
func TestFollowerTimeoutLoadsLocally(t *testing.T) {
	r := newRig(t)
	a := r.coord()
	b := r.coord(func(c *Config) {
		c.Wait, c.PollMin, c.PollMax = 50*time.Millisecond, 5*time.Millisecond, 10*time.Millisecond
	})
	stuck := gatedLoader(values("stuck"))
	leader := loadAsync(context.Background(), a, "s", stuck.load)
	stuck.awaitCall(t)

	local := newLoader(values("local"))
	got := load(t, b, "s", local.load)
	require.NoError(t, got.err)
	require.Equal(t, "local#1", got.v)
	require.Equal(t, core.LoadedHere, got.src, "a local load is cached as any load")
	require.Equal(t, map[string]uint64{"follower_timeout": 1}, outcomes(b))
	require.False(t, r.exists(r.keys("s").data), "a follower never writes the shared tier")

	stuck.open()
	require.Equal(t, "stuck#1", await(t, leader).v)
}

// TestLeaderErrorReleasesLock: a leader whose loader fails lets go of the
// lock at once and a follower takes over.
func TestLeaderErrorReleasesLock(t *testing.T) {
	r := newRig(t)
	r.relay()
	a, b := r.coord(), r.coord()
	boom := errors.New("source down")
	l := gatedLoader(func(n int32) (any, error) {
		if n == 1 {
			return nil, boom
		}
		return "v", nil
	})
	leader := loadAsync(context.Background(), a, "s", l.load)
	l.awaitCall(t)
	follower := loadAsync(context.Background(), b, "s", l.load)
	awaitFollowing(t, b, 1)
	close(l.release)

	require.ErrorIs(t, await(t, leader).err, boom)
	got := await(t, follower)
	require.NoError(t, got.err)
	require.Equal(t, "v", got.v)
	require.Equal(t, map[string]uint64{"leader_load": 1}, outcomes(a))
	require.Equal(t, map[string]uint64{"leader_load": 1}, outcomes(b), "the follower took over as leader")
	require.Equal(t, int32(2), l.calls.Load())
	require.True(t, r.exists(r.keys("s").data))
}

// TestLeaderPanicReleasesLockAndRepanics: the panic goes on to the caller
// (the slot actor's loader goroutine recovers it) after the lock is
// released, and a follower takes over.
func TestLeaderPanicReleasesLockAndRepanics(t *testing.T) {
	r := newRig(t)
	r.relay()
	a, b := r.coord(), r.coord()
	l := gatedLoader(func(n int32) (any, error) {
		if n == 1 {
			panic("loader bug")
		}
		return "v", nil
	})
	leader := loadAsync(context.Background(), a, "s", l.load)
	l.awaitCall(t)
	follower := loadAsync(context.Background(), b, "s", l.load)
	awaitFollowing(t, b, 1)
	close(l.release)

	require.Equal(t, "loader bug", await(t, leader).panic)
	got := await(t, follower)
	require.Nil(t, got.panic)
	require.Equal(t, "v", got.v)
	require.Equal(t, map[string]uint64{"leader_load": 1}, outcomes(b))
	require.Equal(t, int32(2), l.calls.Load())

	recs := r.logs.records(t)
	require.NotEmpty(t, recs)
	panicked := false
	for _, rec := range recs {
		panicked = panicked || rec["panicked"] == true
	}
	require.True(t, panicked, "the panicking leader's outcome is logged")
}

// TestPanicWithoutFollowerFreesLock checks the lock itself, with nobody to
// take over.
func TestPanicWithoutFollowerFreesLock(t *testing.T) {
	r := newRig(t)
	a := r.coord()
	got := load(t, a, "s", func(context.Context, string) (any, error) { panic("bug") })
	require.Equal(t, "bug", got.panic)
	require.False(t, r.exists(r.keys("s").lock))
}

// TestInvalidationRejectsCommit: the slot is dropped while its leader
// loads, so the leader's value, possibly older than the invalidation, is
// not written; it answers the leader's own waiters without being cached.
func TestInvalidationRejectsCommit(t *testing.T) {
	r := newRig(t)
	a, b := r.coord(), r.coord()
	old := gatedLoader(values("old"))
	leader := loadAsync(context.Background(), a, "s", old.load)
	old.awaitCall(t)

	require.NoError(t, b.Drop(context.Background(), "s"))
	old.open()
	got := await(t, leader)
	require.NoError(t, got.err)
	require.Equal(t, "old#1", got.v)
	require.Equal(t, core.CommitRejected, got.src)
	require.Equal(t, map[string]uint64{"stale_commit_rejected": 1}, outcomes(a))
	require.False(t, r.exists(r.keys("s").data), "a stale value reached the shared tier")

	fresh := newLoader(values("new"))
	for _, c := range []*Coordinator{a, b} {
		require.Equal(t, "new#1", load(t, c, "s", fresh.load).v)
	}
	require.Equal(t, int32(1), fresh.calls.Load())
}

// TestExpiredLeaseRejectsCommit: a leader slower than its lease lets a
// second one load; the first one's late commit is refused, so at most two
// loads happen and the newer value stays.
func TestExpiredLeaseRejectsCommit(t *testing.T) {
	r := newRig(t)
	short := func(c *Config) {
		c.Lease, c.Wait, c.PollMin, c.PollMax = 100*time.Millisecond, 50*time.Millisecond, 5*time.Millisecond, 10*time.Millisecond
	}
	a, b := r.coord(short), r.coord(short)
	slow := gatedLoader(values("slow"))
	leader := loadAsync(context.Background(), a, "s", slow.load)
	slow.awaitCall(t)
	lock := r.keys("s").lock
	require.Eventually(t, func() bool { return !r.exists(lock) }, waitFor, tick, "the lease never expired")

	second := newLoader(values("second"))
	got := load(t, b, "s", second.load)
	require.Equal(t, "second#1", got.v)
	require.Equal(t, map[string]uint64{"leader_load": 1}, outcomes(b))

	slow.open()
	got = await(t, leader)
	require.Equal(t, "slow#1", got.v)
	require.Equal(t, core.CommitRejected, got.src)
	require.Equal(t, map[string]uint64{"stale_commit_rejected": 1}, outcomes(a))
	stored, err := r.client.Get(context.Background(), r.keys("s").data).Result()
	require.NoError(t, err)
	require.Contains(t, stored, "second#1", "the late leader overwrote the newer value")
	require.Equal(t, int32(1), slow.calls.Load())
	require.Equal(t, int32(1), second.calls.Load())
}

// TestDropAllRetiresNamespace: after Drop("*") nothing shared before it is
// read again, even by a coordinator that still guesses the old namespace,
// and a leader that was loading before it commits where nobody looks.
func TestDropAllRetiresNamespace(t *testing.T) {
	r := newRig(t)
	a, b, c := r.coord(), r.coord(), r.coord()
	require.Equal(t, "v1#1", load(t, a, "x", newLoader(values("v1")).load).v)
	require.Equal(t, "v1#1", load(t, b, "x", newLoader(values("unused")).load).v, "b learns the namespace")

	inflight := gatedLoader(values("inflight"))
	leader := loadAsync(context.Background(), a, "y", inflight.load)
	inflight.awaitCall(t)

	require.NoError(t, c.Drop(context.Background(), "*"))
	inflight.open()
	require.Equal(t, "inflight#1", await(t, leader).v)

	fresh := newLoader(values("fresh"))
	// b still guesses the old namespace: the guess is checked in the same
	// round trip and thrown away.
	require.Equal(t, "fresh#1", load(t, b, "x", fresh.load).v)
	require.Equal(t, "fresh#2", load(t, b, "y", fresh.load).v)
	require.Equal(t, "fresh#1", load(t, a, "x", fresh.load).v)
	require.Equal(t, "fresh#2", load(t, c, "y", fresh.load).v)
	require.Equal(t, int32(2), fresh.calls.Load())
}

// TestLostNamespaceNeverResurrects: if the gen key is lost (evicted, or
// deleted by hand) while data of its namespace is alive, a new random
// namespace starts instead of an old one coming back.
func TestLostNamespaceNeverResurrects(t *testing.T) {
	r := newRig(t)
	a := r.coord()
	require.Equal(t, "v#1", load(t, a, "s", newLoader(values("v")).load).v)
	require.NoError(t, r.client.Del(context.Background(), r.prefix+"gen").Err())

	got := load(t, a, "s", newLoader(values("after")).load)
	require.Equal(t, "after#1", got.v)
	require.Equal(t, map[string]uint64{"leader_load": 2}, outcomes(a))
}

// TestDropWithoutNamespace: nothing shared yet, nothing to drop.
func TestDropWithoutNamespace(t *testing.T) {
	r := newRig(t)
	require.NoError(t, r.coord().Drop(context.Background(), "s"))
}

// quickOps gives up on Redis calls soon: go-redis retries a refused dial
// for longer than a test wants to wait.
func quickOps(c *Config) { c.OpTimeout = 100 * time.Millisecond }

// TestRedisDownDegrades: with Redis gone every Load still returns, loaded
// locally, and Drop reports the error.
func TestRedisDownDegrades(t *testing.T) {
	r := newRig(t)
	a := r.coord(quickOps)
	r.srv.Kill()
	l := newLoader(values("local"))
	for range 3 {
		got := load(t, a, "s", l.load)
		require.NoError(t, got.err)
		require.Equal(t, core.LoadedHere, got.src)
	}
	require.Equal(t, map[string]uint64{"degraded": 3}, outcomes(a))
	require.Equal(t, int32(3), l.calls.Load())
	// After the first error, misses skip Redis for a cool-down instead of
	// each paying the op timeout.
	recs := r.logs.records(t)
	require.Len(t, recs, 3)
	require.NotContains(t, recs[0]["err"], "skipped")
	require.Contains(t, recs[2]["err"], "skipped")
	// Invalidations always try, and report the error.
	require.Error(t, a.Drop(context.Background(), "s"))
	require.Error(t, a.Drop(context.Background(), "*"))

	// Redis comes back: coordination resumes after the cool-down.
	r.srv.Restart()
	require.Eventually(t, func() bool {
		return load(t, a, "s", l.load).err == nil && a.Stats().Of(LeaderLoad) == 1
	}, waitFor, 20*time.Millisecond)
	require.True(t, r.exists(r.keys("s").data))
}

// TestRedisKilledMidFill: Redis dies while a leader loads and a follower
// waits; both still return a value.
func TestRedisKilledMidFill(t *testing.T) {
	r := newRig(t)
	a, b := r.coord(quickOps), r.coord(quickOps)
	l := gatedLoader(values("v"))
	leader := loadAsync(context.Background(), a, "s", l.load)
	l.awaitCall(t)
	local := newLoader(values("local"))
	follower := loadAsync(context.Background(), b, "s", local.load)
	awaitFollowing(t, b, 1)

	r.srv.Kill()
	got := await(t, follower)
	require.NoError(t, got.err)
	require.Equal(t, "local#1", got.v)
	require.Equal(t, map[string]uint64{"degraded": 1}, outcomes(b))

	l.open()
	got = await(t, leader)
	require.NoError(t, got.err)
	require.Equal(t, "v#1", got.v)
	require.Equal(t, map[string]uint64{"degraded": 1}, outcomes(a), "a failed commit degrades")
}

// TestFrozenRedisIsBounded: a Redis that stops answering without closing
// the connection (a half-open link) holds a miss for at most OpTimeout,
// even with a client that would wait forever.
func TestFrozenRedisIsBounded(t *testing.T) {
	r := newRig(t)
	proxy := redistest.NewProxy(t, r.srv.Addr())
	client := redis.NewClient(&redis.Options{Addr: proxy.Addr(), ReadTimeout: -1, WriteTimeout: -1, MaxRetries: -1})
	t.Cleanup(func() { _ = client.Close() })
	a := r.coord(func(c *Config) { c.Client, c.OpTimeout = client, 50*time.Millisecond })
	require.Equal(t, "v#1", load(t, a, "warm", newLoader(values("v")).load).v)

	proxy.Freeze()
	got := load(t, a, "s", newLoader(values("local")).load)
	require.NoError(t, got.err)
	require.Equal(t, "local#1", got.v)
	require.Equal(t, uint64(1), a.Stats().Of(Degraded))
	proxy.CutAll()
}

// TestFollowerRespectsContext: a follower whose load context ends (Close,
// load timeout) returns at once without loading.
func TestFollowerRespectsContext(t *testing.T) {
	r := newRig(t)
	a, b := r.coord(), r.coord()
	l := gatedLoader(values("v"))
	leader := loadAsync(context.Background(), a, "s", l.load)
	l.awaitCall(t)

	ctx, cancel := context.WithCancel(context.Background())
	follower := loadAsync(ctx, b, "s", l.load)
	awaitFollowing(t, b, 1)
	cancel()
	got := await(t, follower)
	require.ErrorIs(t, got.err, context.Canceled)
	require.Equal(t, map[string]uint64{"cancelled": 1}, outcomes(b))
	require.Zero(t, b.Stats().Waiting)

	l.open()
	require.Equal(t, "v#1", await(t, leader).v)
	require.Equal(t, int32(1), l.calls.Load())
}

// TestUncodableValueStaysLocal: a value the codec cannot encode is served
// (and cached, with the shared TTL) by the leader, not shared, and the lock
// is released for the others.
func TestUncodableValueStaysLocal(t *testing.T) {
	r := newRig(t)
	a := r.coord()
	ch := make(chan int)
	got := load(t, a, "s", func(context.Context, string) (any, error) { return ch, nil })
	require.NoError(t, got.err)
	require.Equal(t, ch, got.v)
	require.Equal(t, core.LoadedHere, got.src)
	require.Equal(t, uint64(1), a.Stats().Uncodable)
	require.Equal(t, map[string]uint64{"leader_load": 1}, outcomes(a))
	k := r.keys("s")
	require.False(t, r.exists(k.data))
	require.False(t, r.exists(k.lock))

	recs := r.logs.records(t)
	require.Len(t, recs, 1)
	require.Equal(t, "WARN", recs[0]["level"])
	require.Contains(t, recs[0]["err"], "encode")
}

// TestUndecodableSharedValueDegrades: a shared value this instance cannot
// decode is loaded locally instead.
func TestUndecodableSharedValueDegrades(t *testing.T) {
	r := newRig(t)
	a := r.coord()
	require.NoError(t, load(t, a, "warm", newLoader(values("v")).load).err) // creates the namespace
	require.NoError(t, r.client.Set(context.Background(), r.keys("s").data, "c{not json", time.Hour).Err())
	got := load(t, a, "s", newLoader(values("local")).load)
	require.Equal(t, "local#1", got.v)
	require.Equal(t, uint64(1), a.Stats().Of(Degraded))
}

// TestUnsharedTTL: a value the slot's behaviour would not cache is not
// shared either.
func TestUnsharedTTL(t *testing.T) {
	r := newRig(t)
	a := r.coord()
	got := await(t, loadAsyncDecide(context.Background(), a, "s", newLoader(values("v")).load,
		&sharing{}))
	require.Equal(t, "v#1", got.v)
	require.Equal(t, core.LoadedHere, got.src)
	k := r.keys("s")
	require.False(t, r.exists(k.data))
	require.False(t, r.exists(k.lock))
}

// TestOutcomeLogFields: every Load logs exactly one record, with the slot,
// the outcome, how long it waited and how many times it looked.
func TestOutcomeLogFields(t *testing.T) {
	r := newRig(t)
	a, b := r.coord(), r.coord()
	require.NoError(t, load(t, a, "s", newLoader(values("v")).load).err)
	require.NoError(t, load(t, b, "s", newLoader(values("v")).load).err)
	recs := r.logs.records(t)
	require.Len(t, recs, 2)
	for i, want := range []string{"leader_load", "shared_hit"} {
		require.Equal(t, "s", recs[i]["slot"])
		require.Equal(t, want, recs[i]["outcome"])
		require.Contains(t, recs[i], "waited")
		require.EqualValues(t, 1, recs[i]["attempts"])
	}
}

// TestStatsReset zeroes the outcome counters.
func TestStatsReset(t *testing.T) {
	r := newRig(t)
	a := r.coord()
	require.NoError(t, load(t, a, "s", newLoader(values("v")).load).err)
	a.ResetStats()
	require.Empty(t, outcomes(a))
}

// TestConcurrentDropsAndLoads is a race detector workout: loads, drops and
// notices at once on a few slots never fail or hang.
func TestConcurrentDropsAndLoads(t *testing.T) {
	r := newRig(t)
	r.relay()
	cs := []*Coordinator{r.coord(), r.coord(), r.coord()}
	l := newLoader(values("v"))
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() {
			for j := range 30 {
				slot := []string{"a", "b", "c"}[j%3]
				if (i+j)%7 == 0 {
					_ = c.Drop(context.Background(), slot)
					continue
				}
				got := load(t, c, slot, l.load)
				require.NoError(t, got.err)
			}
		})
	}
	wg.Wait()
	for _, c := range cs {
		require.Zero(t, c.Stats().Waiting)
	}
}
