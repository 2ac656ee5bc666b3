package slotcache

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/internal/redistest"
)

// TestStatsRedisDown: Stats.RedisDown says why Redis is not heard, an
// unreachable server's dial error, from the first failed attempt of an
// engine that never subscribed, and after a loss; it clears once the
// subscription is confirmed again, and is never a refusal.
func TestStatsRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client(t)
	srv.Kill()
	e := rtEngine(t, client, rtChannel(t))
	down := func() bool {
		st := e.Stats()
		require.Empty(t, st.RedisRefusal, "an unreachable Redis refuses nothing")
		return !st.Subscribed && st.RedisDown != ""
	}
	require.Eventually(t, down, rtWait, rtPoll, "never subscribed: RedisDown %q", e.Stats().RedisDown)
	require.Contains(t, e.Stats().RedisDown, "connection refused")

	srv.Restart()
	rtReady(t, e)
	require.Eventually(t, func() bool { st := e.Stats(); return st.Subscribed && st.RedisDown == "" }, rtWait, rtPoll,
		"heard again: RedisDown %q", e.Stats().RedisDown)

	srv.Kill()
	require.Eventually(t, down, rtWait, rtPoll, "lost: RedisDown %q", e.Stats().RedisDown)
	srv.Restart()
	require.Eventually(t, func() bool { st := e.Stats(); return st.Subscribed && st.RedisDown == "" }, rtWait, rtPoll,
		"heard again: RedisDown %q", e.Stats().RedisDown)
}
