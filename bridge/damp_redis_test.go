package bridge

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/slotcache/slotcache/internal/redistest"
)

// countingHandler counts the handler calls of a damped bridge.
type countingHandler struct{ all, inv, filled atomic.Uint64 }

func (h *countingHandler) Invalidate(string)   { h.inv.Add(1) }
func (h *countingHandler) InvalidateAll()      { h.all.Add(1) }
func (h *countingHandler) Resync()             {}
func (h *countingHandler) Filled(string)       { h.filled.Add(1) }
func (h *countingHandler) Watermark(time.Time) {}

// TestDampingOnRealRedis: a flood of "*" from a raw client through a real
// redis-server reaches the handler as one call per invalidation applied at
// once plus one per flush, and every message counts as applied once
// flushed; fill notices in the flood are never damped nor coalesced;
// invalidations held when the session dies, or the server restarts, are
// applied after the resubscription, not dropped; Close stops the flush timer with
// invalidations held, leaving no goroutine.
func TestDampingOnRealRedis(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client(t)
	pub := srv.Client(t)
	ignore := goleak.IgnoreCurrent()
	h := &countingHandler{}
	channel := "slotcache-test:damping:" + t.Name()
	b := Start(Config{
		Client: client, Channel: channel, Origin: "me", Handler: h,
		Heartbeat: 50 * time.Millisecond, PublishTimeout: time.Second, MaxMessageBytes: 4096,
		BackoffMin: 10 * time.Millisecond, BackoffMax: 100 * time.Millisecond,
		Damping: 500 * time.Millisecond,
	})
	select {
	case <-b.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("not subscribed")
	}

	ctx := context.Background()
	const messages, notices = 1000, 5
	for i := range messages {
		require.NoError(t, pub.Publish(ctx, channel, `{"slotId":"*","_origin":"storm"}`).Err())
		if i%(messages/notices) == 0 {
			require.NoError(t, pub.Publish(ctx, channel, `{"filled":"f","_origin":"storm"}`).Err())
		}
	}
	require.Eventually(t, func() bool { return b.Stats().Applied == messages }, 10*time.Second, 5*time.Millisecond,
		"every invalidation applied, the held ones by a flush")
	st := b.Stats()
	require.NotZero(t, st.Damped)
	require.Eventually(t, func() bool { return st.Applied-st.Damped+st.DampFlushes == h.all.Load() }, 10*time.Second, 5*time.Millisecond,
		"one handler call per invalidation applied at once, and per flush") // counted just before the call
	require.Zero(t, h.inv.Load())
	require.Equal(t, uint64(notices), h.filled.Load(), "fill notices are passed on one by one")
	require.Equal(t, uint64(notices), st.Filled)

	d := &b.primary.damp
	held := func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.count > 0 && d.armed
	}
	// received counts what reached the damper: applied (at once or by a
	// flush) and held now; under d.mu, a flush moves the held to applied.
	received := func() uint64 {
		d.mu.Lock()
		defer d.mu.Unlock()
		return b.Stats().Applied + d.count
	}
	published := uint64(messages)
	// hold returns once an invalidation is held and every published one
	// has reached the bridge: one still in Redis's output buffer when the
	// server is killed is lost, and then Applied can never reach published
	// (the bridge flushes everything on resubscribing instead, which this
	// test does not count).
	hold := func() {
		require.Eventually(t, func() bool {
			switch {
			case received() != published:
				return false // still on its way
			case held():
				return true
			}
			if pub.Publish(ctx, channel, `{"slotId":"*","_origin":"storm"}`).Err() == nil {
				published++
			}
			return false
		}, 10*time.Second, time.Millisecond, "nothing held")
	}

	// appliedAfter waits for the subscription-th subscription, after fault,
	// and then for every invalidation held across it to be applied.
	appliedAfter := func(subscription uint64, fault string) {
		t.Helper()
		require.Eventually(t, func() bool { return b.Stats().Subscriptions >= subscription }, 10*time.Second, 5*time.Millisecond,
			"no resubscription after %s", fault)
		require.Eventually(t, func() bool { return b.Stats().Applied == published }, 10*time.Second, 5*time.Millisecond,
			"invalidations held across %s are applied", fault)
	}
	hold()
	srv.KillPubSubClients()
	appliedAfter(2, "the session change")

	// The server itself dies and comes back, empty, with invalidations held:
	// the flush timer does not wait for it, nor do they wait for the timer.
	hold()
	srv.Kill()
	srv.Restart()
	appliedAfter(3, "a server restart")

	hold()
	b.Close()
	d.mu.Lock()
	require.True(t, d.stopped)
	require.False(t, d.armed, "the flush timer outlives Close")
	require.Zero(t, d.count)
	d.mu.Unlock()
	goleak.VerifyNone(t, ignore, // the restarted redis-server's process watchers
		goleak.IgnoreAnyFunction("github.com/slotcache/slotcache/internal/redistest.(*Server).launch.func1"),
		goleak.IgnoreAnyFunction("os/exec.(*Cmd).Start.func2"))
}
