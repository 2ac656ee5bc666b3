package slotcache

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFromEnvRedisKinds checks which deployment FromEnv reads from which
// variable, and that bad or conflicting URLs fail New naming the variable.
func TestFromEnvRedisKinds(t *testing.T) {
	for _, tc := range []struct {
		name, url, cluster string
		kind               redisKind
		err                string
	}{
		{name: "node", url: "redis://127.0.0.1:6379/0", kind: redisNode},
		{name: "sentinel", url: "redis://127.0.0.1:26379/0?master_name=m&addr=127.0.0.1:26380", kind: redisSentinel},
		{name: "cluster", cluster: "redis://127.0.0.1:7000?addr=127.0.0.1:7001", kind: redisCluster},
		{name: "both", url: "redis://127.0.0.1:6379", cluster: "redis://127.0.0.1:7000", err: "REDIS_URL or REDIS_CLUSTER_URL, not both"},
		{name: "bad sentinel", url: "redis://127.0.0.1:26379/0?master_name=m&nonsense=1", err: "REDIS_URL"},
		{name: "bad cluster", cluster: "redis://127.0.0.1:7000?nonsense=1", err: "REDIS_CLUSTER_URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("REDIS_URL", tc.url)
			t.Setenv("REDIS_CLUSTER_URL", tc.cluster)
			cfg, err := configure(defaultConfig(), []Option{FromEnv()})
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.kind, cfg.redisKind)
			require.Equal(t, tc.kind == redisSentinel, cfg.sentinelWatch() != nil)
		})
	}
}
