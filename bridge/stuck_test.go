package bridge

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/internal/redistest"
)

// With ReadTimeout -1, a subscription attempt that dialled into a frozen
// link waits for ever. Once stuckLimit of them wait, the bridge used to
// start no attempt at all: after the network healed for new connections,
// it stayed unsubscribed for as long as the frozen ones lasted (for ever
// here; until TCP keepalive in production). TestResubscribesPastADeadLink
// failed so under load, when a second attempt froze before the heal. Past
// the limit, an attempt must still start now and then.
func TestResubscribesPastStuckLimit(t *testing.T) {
	srv := redistest.Start(t)
	proxy := redistest.NewProxy(t, srv.Addr())
	client := redis.NewClient(&redis.Options{Addr: proxy.Addr(), ReadTimeout: -1, WriteTimeout: -1})
	t.Cleanup(func() { _ = client.Close() })
	b := Start(Config{
		Client: client, Channel: "slotcache-test:stuck:" + t.Name(), Origin: "me", Handler: &countingHandler{},
		Heartbeat: 20 * time.Millisecond, PublishTimeout: time.Second, MaxMessageBytes: 4096,
		BackoffMin: 10 * time.Millisecond, BackoffMax: 100 * time.Millisecond,
	})
	t.Cleanup(b.Close)
	t.Cleanup(proxy.CutAll) // runs before Close: releases the frozen attempts
	select {
	case <-b.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("not subscribed")
	}

	proxy.Partition()
	require.Eventually(t, func() bool { return b.stuck.Load() >= stuckLimit }, 10*time.Second, 5*time.Millisecond,
		"the attempts never froze")
	proxy.AdmitNew()
	require.Eventually(t, func() bool { return b.Stats().Subscriptions >= 2 }, 10*time.Second, 5*time.Millisecond,
		"no attempt past the frozen ones")
}

// Past stuckLimit, attempts still start now and then, but never more than
// stuckMax of them wait at once: each holds a goroutine and a socket for as
// long as the link stays frozen (for ever here), so a partition that lasts
// must not pile them up one per stuckRetry.
func TestStuckAttemptsBounded(t *testing.T) {
	srv := redistest.Start(t)
	proxy := redistest.NewProxy(t, srv.Addr())
	client := redis.NewClient(&redis.Options{Addr: proxy.Addr(), ReadTimeout: -1, WriteTimeout: -1})
	t.Cleanup(func() { _ = client.Close() })
	b := Start(Config{
		Client: client, Channel: "slotcache-test:stuck:" + t.Name(), Origin: "me", Handler: &countingHandler{},
		Heartbeat: 20 * time.Millisecond, PublishTimeout: time.Second, MaxMessageBytes: 4096,
		BackoffMin: 10 * time.Millisecond, BackoffMax: 100 * time.Millisecond,
	})
	t.Cleanup(b.Close)
	t.Cleanup(proxy.CutAll) // runs before Close: releases the frozen attempts
	select {
	case <-b.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("not subscribed")
	}

	proxy.Partition()
	require.Eventually(t, func() bool { return b.stuck.Load() >= stuckMax }, 10*time.Second, 5*time.Millisecond,
		"attempts past stuckLimit stopped before stuckMax: %d", b.stuck.Load())
	// Another attempt would start within one stuckRetry if none bounded them.
	require.Never(t, func() bool { return b.stuck.Load() > stuckMax }, 3*b.stuckRetry(), 5*time.Millisecond,
		"more than stuckMax attempts wait on the frozen link")
}
