package bridge_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/bridge"
	"github.com/slotcache/slotcache/internal/redistest"
)

// TestOutboxPublishesWhenRedisIsBack takes Redis away from one bridge only:
// its invalidations must be queued (Publish says so, promptly), coalesced,
// and published in order once Redis is back, before a newer one.
func TestOutboxPublishesWhenRedisIsBack(t *testing.T) {
	srv := redistest.Start(t)
	proxy := redistest.NewProxy(t, srv.Addr())
	ch := uniqueChannel(t)
	listener := rawSubscribe(t, srv.Client(t), ch)
	b := startBridge(t, proxiedClient(t, proxy), ch, "origin-a", newRecorder(),
		withHeartbeat(20*time.Millisecond), withPublishTimeout(100*time.Millisecond))
	waitReady(t, b)

	proxy.Down()
	for _, id := range []string{"x", "y", "x"} {
		err := b.Publish(context.Background(), id)
		require.ErrorIs(t, err, bridge.ErrQueued, "publishing %s with Redis away", id)
		require.ErrorContains(t, err, id)
	}
	st := b.Stats()
	require.Equal(t, uint64(3), st.Queued)
	require.NotZero(t, st.OutboxSize)

	proxy.Up()
	// Queued behind x and y, so published after them, whenever Redis is back.
	go func() { _ = b.Publish(context.Background(), "z") }()
	for _, want := range []string{"x", "y", "z"} {
		require.Equal(t, string(bridge.Encode(want, "origin-a")), receive(t, listener).Payload)
	}
	require.Eventually(t, func() bool { return b.Stats().OutboxSize == 0 }, waitFor, poll)
	require.GreaterOrEqual(t, b.Stats().Retried, uint64(2))

	// Drained: the next one is published directly.
	require.NoError(t, b.Publish(context.Background(), "w"))
	require.Equal(t, string(bridge.Encode("w", "origin-a")), receive(t, listener).Payload)
}

// TestOutboxDroppedAtCloseIsCounted checks that what Close leaves queued is
// counted, never silently lost.
func TestOutboxDroppedAtCloseIsCounted(t *testing.T) {
	srv := redistest.Start(t)
	proxy := redistest.NewProxy(t, srv.Addr())
	b := startBridge(t, proxiedClient(t, proxy), uniqueChannel(t), "origin-a", newRecorder(),
		withHeartbeat(20*time.Millisecond), withPublishTimeout(50*time.Millisecond))
	waitReady(t, b)
	proxy.Down()
	err := b.Publish(context.Background(), "x")
	require.True(t, errors.Is(err, bridge.ErrQueued), "got %v", err)
	closeWithin(t, b)
	require.Equal(t, uint64(1), b.Stats().Dropped)
	require.Zero(t, b.Stats().OutboxSize)
}
