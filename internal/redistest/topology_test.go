package redistest

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// TestSentinelFailover checks the harness: a primary, a replica and three
// sentinels that agree on a new primary after a forced failover.
func TestSentinelFailover(t *testing.T) {
	primary := Start(t)
	StartReplica(t, primary)
	ss := StartSentinels(t, primary, 1, 3)
	addr := ss.Failover(t, primary.Addr())
	require.NotEqual(t, primary.Addr(), addr)
}

// TestClusterCreate checks the harness: three masters serving every slot.
func TestClusterCreate(t *testing.T) {
	c := StartCluster(t, 3)
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	t.Cleanup(func() { _ = cc.Close() })
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c", "d"} {
		require.NoError(t, cc.Set(ctx, k, k, 0).Err())
	}
	n, err := cc.DBSize(ctx).Result()
	require.NoError(t, err)
	require.Equal(t, int64(4), n)
}
