package slotcache

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/internal/redistest"
)

// TestStormWhileFillRefused: damping and a shared tier that Redis refuses
// (the README's user without +evalsha). Every miss degrades to a local
// load and the refusal stands in Stats.RedisRefusal; a storm of "*" on the
// channel is still damped and every message applied by its flushes, the
// refusal is not taken for the subscription's nor cleared by the traffic,
// and a slot read after the storm is loaded again.
func TestStormWhileFillRefused(t *testing.T) {
	srv := redistest.Start(t)
	srv.SetUser(t, tlsUser, without(t, tlsReadmeRule(t, true), "+evalsha")...)
	opts, err := redis.ParseURL(srv.UserURL(tlsUser, tlsPassword))
	require.NoError(t, err)
	client := redis.NewClient(opts)
	t.Cleanup(func() { _ = client.Close() })
	const ch = "slotcache:invalidate" // the README's rule grants this channel only
	e := rtEngine(t, client, ch, WithFill(FillPolicy{}), WithInvalidationDamping(time.Second), WithMaxStaleness(3*time.Second))
	rtReady(t, e)
	var l rtLoader
	first := rtGet(t, e, "k", &l)
	refused := func() bool { return strings.Contains(e.Stats().RedisRefusal, "'evalsha'") }
	require.Eventually(t, refused, rtWait, rtPoll, "RedisRefusal %q", e.Stats().RedisRefusal)
	require.NotZero(t, e.Stats().FillDegraded)

	const storm = 200
	p := srv.Client(t).Pipeline()
	for range storm {
		p.Publish(context.Background(), ch, `{"slotId":"*","_origin":"storm"}`)
	}
	_, err = p.Exec(context.Background())
	require.NoError(t, err)
	require.Eventually(t, func() bool { return e.Stats().CrossProcessInvalidations == storm }, rtWait, rtPoll,
		"every invalidation applied, at once or by a flush")
	st := e.Stats()
	require.NotZero(t, st.DampedInvalidations, "the storm was not damped")
	require.NotZero(t, st.DampFlushes)
	require.True(t, st.Subscribed)
	require.True(t, refused(), "the fill's refusal was cleared by the storm: %q", st.RedisRefusal)
	require.False(t, e.Cached("k"))
	require.NotEqual(t, first, rtGet(t, e, "k", &l), "read after the storm: not loaded again")
}
