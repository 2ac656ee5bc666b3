package bridge_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
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
	last := receiveInOrder(t, listener, "", "x", "y", "z")
	require.Eventually(t, func() bool { return b.Stats().OutboxSize == 0 }, waitFor, poll)
	require.GreaterOrEqual(t, b.Stats().Retried, uint64(2))

	// Drained: the next one is published directly.
	require.NoError(t, b.Publish(context.Background(), "w"))
	receiveInOrder(t, listener, last, "w")
}

// receiveInOrder requires the invalidations of wants, in order, from
// origin-a on listener, and returns the last payload. Delivery is at least
// once: an attempt that Redis took but answered after the publish timeout
// (a loaded machine) counts as failed and is sent again right after
// itself, so a payload repeating the one before it (after, at first) is
// skipped.
func receiveInOrder(t *testing.T, listener *redis.PubSub, after string, wants ...string) string {
	t.Helper()
	last := after
	for _, want := range wants {
		got := receive(t, listener).Payload
		for got == last {
			got = receive(t, listener).Payload
		}
		require.Equal(t, string(bridge.Encode(want, "origin-a")), got)
		last = got
	}
	return last
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

// lateReply is a go-redis hook that, once armed, lets one PUBLISH on
// channel reach Redis and holds its reply back until released: a publish
// Redis took, answered after the publish timeout.
type lateReply struct {
	channel string
	armed   atomic.Bool
	release chan struct{}
}

func (h *lateReply) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *lateReply) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (h *lateReply) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		args := cmd.Args()
		if cmd.Name() != "publish" || len(args) < 2 || args[1] != h.channel || !h.armed.CompareAndSwap(true, false) {
			return next(ctx, cmd)
		}
		err := next(ctx, cmd)
		<-h.release
		return err
	}
}

// TestOutboxDoesNotRepublishALatePublish: a publish Redis took but
// answered after the publish timeout is queued (the writer cannot know
// yet), and the drainer, which waits one more publish timeout for that
// answer, must not publish it a second time once it learns it landed.
func TestOutboxDoesNotRepublishALatePublish(t *testing.T) {
	srv := redistest.Start(t)
	ch := uniqueChannel(t)
	listener := rawSubscribe(t, srv.Client(t), ch)
	late := &lateReply{channel: ch, release: make(chan struct{})}
	client := srv.Client(t)
	client.AddHook(late)
	b := startBridge(t, client, ch, "origin-a", newRecorder(), withPublishTimeout(250*time.Millisecond))
	waitReady(t, b)

	late.armed.Store(true)
	require.ErrorIs(t, b.Publish(context.Background(), "x"), bridge.ErrQueued)
	close(late.release) // Redis's answer, within the drainer's wait
	require.Equal(t, string(bridge.Encode("x", "origin-a")), receive(t, listener).Payload)
	require.Eventually(t, func() bool { return b.Stats().OutboxSize == 0 }, waitFor, poll)

	// Published after the drainer finished: the next message the listener
	// gets, unless the drainer published x again.
	require.NoError(t, b.Publish(context.Background(), "z"))
	require.Equal(t, string(bridge.Encode("z", "origin-a")), receive(t, listener).Payload,
		"the late publish of x was published again")
	st := b.Stats()
	require.Zero(t, st.PublishErrors, "a publish that landed is no publish error")
	require.Zero(t, st.Retried)
}

// TestConfirmedQueuedBehindOthers: while older invalidations wait in the
// outbox, a confirmed one queues behind them without a publish of its own
// (it would overtake them), so it is no publish error; it goes out after
// them once Redis is back.
func TestConfirmedQueuedBehindOthers(t *testing.T) {
	srv := redistest.Start(t)
	proxy := redistest.NewProxy(t, srv.Addr())
	ch := uniqueChannel(t)
	listener := rawSubscribe(t, srv.Client(t), ch)
	b := startBridge(t, proxiedClient(t, proxy), ch, "origin-a", newRecorder(),
		withHeartbeat(20*time.Millisecond), withPublishTimeout(100*time.Millisecond))
	waitReady(t, b)

	proxy.Down()
	require.ErrorIs(t, b.Publish(context.Background(), "x"), bridge.ErrQueued)
	require.Eventually(t, func() bool { return b.Stats().PublishErrors == 1 }, waitFor, poll)
	require.ErrorIs(t, b.Primary().PublishConfirmed(context.Background(), "y"), bridge.ErrQueued)
	st := b.Stats()
	require.Equal(t, uint64(2), st.Queued)
	require.Equal(t, uint64(1), st.PublishErrors, "y was queued behind x, never published")

	proxy.Up()
	receiveInOrder(t, listener, "", "x", "y")
}
