package redistest

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestStartPing(t *testing.T) {
	t.Parallel()
	s := Start(t)
	ctx := testCtx(t)

	require.NoError(t, s.Client(t).Ping(ctx).Err())

	opt, err := redis.ParseURL(s.URL())
	require.NoError(t, err)
	assert.Equal(t, s.Addr(), opt.Addr)
	assert.Equal(t, 0, opt.DB)

	// Persistence is off so tests never write dump files.
	cfg, err := s.Client(t).ConfigGet(ctx, "save").Result()
	require.NoError(t, err)
	assert.Equal(t, "", cfg["save"])
}

func TestKillRestart(t *testing.T) {
	t.Parallel()
	s := Start(t)
	ctx := testCtx(t)
	addr := s.Addr()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.Set(ctx, "k", "v", 0).Err())

	s.Kill()
	require.Error(t, c.Ping(ctx).Err())
	s.Kill() // idempotent

	s.Restart()
	assert.Equal(t, addr, s.Addr())
	require.Eventually(t, func() bool { return c.Ping(ctx).Err() == nil }, 5*time.Second, 5*time.Millisecond)
	// A restart is a fresh, empty server.
	assert.ErrorIs(t, c.Get(ctx, "k").Err(), redis.Nil)

	s.Restart() // restarting a running server replaces it
	require.Eventually(t, func() bool { return c.Ping(ctx).Err() == nil }, 5*time.Second, 5*time.Millisecond)
}

func TestKillPubSubClients(t *testing.T) {
	t.Parallel()
	s := Start(t)
	ctx := testCtx(t)
	c := s.Client(t)

	ps := c.Subscribe(ctx, "events")
	t.Cleanup(func() { _ = ps.Close() })
	_, err := ps.Receive(ctx) // subscription confirmation
	require.NoError(t, err)
	s.WaitSubscribers(t, "events", 1)

	assert.GreaterOrEqual(t, s.KillPubSubClients(), int64(1))

	// The dropped connection surfaces as an error; go-redis then reconnects
	// and resubscribes, which the next Receive reports.
	_, err = ps.Receive(ctx)
	require.Error(t, err)
	msg, err := ps.Receive(ctx)
	require.NoError(t, err)
	assert.IsType(t, &redis.Subscription{}, msg)
	s.WaitSubscribers(t, "events", 1)
}
