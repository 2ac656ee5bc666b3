package slotcache

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
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

// TestMaxStalenessValidation checks that a bound the heartbeat cannot keep
// fails New, naming both options, and that without Redis nothing is checked
// or enforced.
func TestMaxStalenessValidation(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled: New fails first
	t.Cleanup(func() { _ = client.Close() })
	for _, tc := range []struct {
		name string
		opts []Option
		want []string
	}{
		{"negative", []Option{WithMaxStaleness(-time.Second)}, []string{"WithMaxStaleness"}},
		{"no heartbeat", []Option{WithRedis(client), WithHeartbeat(0)}, []string{"WithMaxStaleness", "WithHeartbeat(0)"}},
		{"under two heartbeats", []Option{WithRedis(client), WithHeartbeat(time.Second), WithMaxStaleness(1500 * time.Millisecond)},
			[]string{"WithMaxStaleness: 1.5s", "WithHeartbeat(1s)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New(tc.opts...)
			require.Nil(t, e)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
			var oe *OptionError
			require.ErrorAs(t, err, &oe, "an option error a caller can inspect")
			require.Equal(t, "WithMaxStaleness", oe.Option)
		})
	}
	e, err := New(WithHeartbeat(0))
	require.NoError(t, err, "no Redis: no bound to keep")
	t.Cleanup(func() { _ = e.Close() })
	require.Zero(t, e.env.MaxStaleness())
}

// TestWithSentinelOptions checks that WithSentinel needs a master name and
// sentinels, and makes the engine watch them.
func TestWithSentinelOptions(t *testing.T) {
	_, err := New(WithSentinel(nil))
	require.ErrorContains(t, err, "WithSentinel")
	_, err = New(WithSentinel(&redis.FailoverOptions{SentinelAddrs: []string{"127.0.0.1:1"}}))
	require.ErrorContains(t, err, "WithSentinel")
	cfg, err := configure(defaultConfig(), []Option{WithSentinel(&redis.FailoverOptions{MasterName: "m", SentinelAddrs: []string{"127.0.0.1:1"}})})
	require.NoError(t, err)
	w := cfg.sentinelWatch()
	require.NotNil(t, w)
	require.Equal(t, "m", w.MasterName)
	require.Equal(t, []string{"127.0.0.1:1"}, w.Addrs)
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = client.Close() })
	cfg, err = configure(cfg, []Option{WithRedis(client)})
	require.NoError(t, err)
	require.Nil(t, cfg.sentinelWatch(), "WithRedis replaces WithSentinel")
}

// TestNamedCacheRedisNeedsTheEngines: a named cache uses its engine's Redis
// connection (or WithRedis's). FromEnv finding Redis, or WithSentinel, on
// a named cache of an engine without Redis gave it no Redis at all,
// silently: its bound then expired every entry after 3 s, and with
// WithFill its first Get crashed the process on a nil client. NewCache
// must fail, naming the option.
func TestNamedCacheRedisNeedsTheEngines(t *testing.T) {
	t.Setenv("REDIS_URL", "redis://127.0.0.1:1/0")
	t.Setenv("REDIS_CLUSTER_URL", "")
	e, err := New()
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	load := func(context.Context, string) (any, error) { return 1, nil }
	for option, opt := range map[string]Option{
		"FromEnv":      FromEnv(),
		"WithSentinel": WithSentinel(&redis.FailoverOptions{MasterName: "m", SentinelAddrs: []string{"127.0.0.1:1"}}),
	} {
		c, err := NewCache[any](e, "named-"+option, load, opt, WithFill(FillPolicy{}))
		require.Nil(t, c, option)
		var oe *OptionError
		require.ErrorAs(t, err, &oe, option)
		require.Equal(t, option, oe.Option)
	}
}
