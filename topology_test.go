package slotcache

// Invalidation and fill across a real Sentinel deployment (primary,
// replica, three sentinels, a forced failover) and a real 3-master Cluster,
// configured the way deployments do it: FromEnv.

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/internal/redistest"
)

// envEngine returns an engine configured by FromEnv plus opts, closed at
// the end of the test.
func envEngine(t *testing.T, channel string, opts ...Option) *Engine {
	t.Helper()
	e, err := New(append([]Option{FromEnv(), WithChannel(channel), WithTTL(time.Hour)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	rtReady(t, e)
	return e
}

// sentinelEnv starts a primary, a replica and three sentinels, and points
// FromEnv at the sentinels (REDIS_URL with master_name).
func sentinelEnv(t *testing.T) (primary *redistest.Server, ss *redistest.Sentinels) {
	t.Helper()
	primary = redistest.Start(t)
	redistest.StartReplica(t, primary)
	ss = redistest.StartSentinels(t, primary, 1, 3)
	t.Setenv("REDIS_URL", ss.URL())
	t.Setenv("REDIS_CLUSTER_URL", "")
	return primary, ss
}

// crossInvalidate checks that an invalidation on from reaches to.
func crossInvalidate(t *testing.T, from, to *Engine, slotID string, l *rtLoader) {
	t.Helper()
	rtGet(t, to, slotID, l)
	require.NoError(t, from.Invalidate(context.Background(), slotID))
	require.Eventually(t, func() bool { return !to.Cached(slotID) }, rtWait, rtPoll,
		"the invalidation of %s never arrived", slotID)
}

// TestSentinelFailoverMovesSubscriptions fails the primary over with the
// engines' heartbeat far too slow to notice within the test's wait: their
// subscriptions must follow the sentinels' announcement to the new primary,
// and invalidations and fill must work across it.
func TestSentinelFailoverMovesSubscriptions(t *testing.T) {
	primary, ss := sentinelEnv(t)
	ch := rtChannel(t)
	opts := []Option{WithHeartbeat(10 * time.Second), WithMaxStaleness(0), WithFill(FillPolicy{})}
	a := envEngine(t, ch, opts...)
	// b is configured in code: WithSentinel, which FromEnv then leaves alone.
	t.Setenv("REDIS_URL", "")
	b := envEngine(t, ch, append(opts, WithSentinel(&redis.FailoverOptions{
		MasterName: redistest.MasterName, SentinelAddrs: ss.Addrs(),
	}))...)
	var l rtLoader
	crossInvalidate(t, a, b, "before", &l)

	ss.Failover(t, primary.Addr())
	for _, e := range []*Engine{a, b} {
		require.Eventually(t, func() bool {
			st := e.sub.Stats()
			return st.SentinelSwitches > 0 && st.Subscriptions >= 2
		}, rtWait, rtPoll, "the subscription did not follow the failover")
		require.Zero(t, e.Stats().HeartbeatMisses, "the heartbeat, not the sentinels, moved it")
	}
	crossInvalidate(t, a, b, "after", &l)
	crossInvalidate(t, b, a, "after-too", &l)
	rtGet(t, b, "confirmed", &l)
	require.NoError(t, a.InvalidateConfirmed(context.Background(), "confirmed"))
	require.False(t, b.Cached("confirmed"), "confirmed before b applied it")

	// Fill through the new primary: b serves what a loaded.
	ctx := context.Background()
	va, err := a.Get(ctx, "filled", l.load)
	require.NoError(t, err)
	vb, err := b.Get(ctx, "filled", l.load)
	require.NoError(t, err)
	require.Equal(t, va, vb)
	require.Equal(t, uint64(1), b.Stats().FillSharedHits)
}

// TestClusterInvalidationAndFill runs engines against a 3-master Cluster
// through REDIS_CLUSTER_URL, one seeded with each node: classic PUBLISH
// reaches subscribers on every node, and fill keys hash-tagged per slot
// work across nodes.
func TestClusterInvalidationAndFill(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	t.Setenv("REDIS_URL", "")
	ch := rtChannel(t)
	var engines []*Engine
	for i := range 3 {
		// Seed each engine with a different node first.
		addrs := c.Addrs()
		addrs[0], addrs[i] = addrs[i], addrs[0]
		t.Setenv("REDIS_CLUSTER_URL", redistest.ClusterURL(addrs))
		engines = append(engines, envEngine(t, ch, WithFill(FillPolicy{})))
	}
	var l rtLoader
	for i, from := range engines {
		for j, to := range engines {
			if i != j {
				// A slot per pair: an invalidation still travelling
				// to a third engine must not overtake its next load.
				crossInvalidate(t, from, to, fmt.Sprintf("x%d%d", i, j), &l)
			}
		}
	}
	ctx := context.Background()
	for _, slot := range []string{"f1", "f2", "f3", "f4"} {
		want, err := engines[0].Get(ctx, slot, l.load)
		require.NoError(t, err)
		for _, e := range engines[1:] {
			got, err := e.Get(ctx, slot, l.load)
			require.NoError(t, err)
			require.Equal(t, want, got, "slot %s was loaded again instead of filled", slot)
		}
	}
	require.NoError(t, engines[1].InvalidateConfirmed(ctx, "f1"))
}
