package bridge_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/bridge"
	"github.com/slotcache/slotcache/internal/redistest"
)

// TestWatermarkFollowsDelivery checks the promise the staleness bound rests
// on: once the watermark passes time t, every message published before t
// has reached the handler.
func TestWatermarkFollowsDelivery(t *testing.T) {
	srv := redistest.Start(t)
	ch := uniqueChannel(t)
	rec := newRecorder()
	b := startBridge(t, srv.Client(t), ch, "origin-a", rec, withHeartbeat(50*time.Millisecond))
	waitReady(t, b)
	rec.expect(t, "resync")

	for i := range 5 {
		publish(t, srv.Client(t), ch, `{"slotId":"x","_origin":"b"}`)
		published := time.Now()
		require.Eventually(t, func() bool {
			w := rec.watermark.Load()
			return w != nil && w.After(published)
		}, waitFor, poll, "round %d: the watermark never passed the publish", i)
		// Delivered, or covered by a resync (a loaded machine may take a
		// slow echo for a dead link and resubscribe, losing messages).
		evs := rec.drained()
		require.True(t, slices.Contains(evs, "inv:x") || slices.Contains(evs, "resync"),
			"round %d: the watermark passed a message that was not delivered: %v", i, evs)
	}
}

// frozenClient returns a client to srv that waits forever on a silent
// server: no read or write timeout, no ContextTimeoutEnabled. go-redis
// bounds its dials, HELLO and reads by these timeouts, not by contexts.
func frozenClient(t *testing.T, srv *redistest.Server) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), ReadTimeout: -1, WriteTimeout: -1})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestNeverWaitsOnStoppedRedis stops (SIGSTOP) Redis under a client that
// would wait for it forever: Attach, Detach and Close must return at once
// or within Close's bound, whatever the subscription goroutine is stuck in.
func TestNeverWaitsOnStoppedRedis(t *testing.T) {
	for _, when := range []string{"before start", "after subscribing"} {
		t.Run(when, func(t *testing.T) {
			srv := redistest.Start(t)
			client := frozenClient(t, srv)
			if when == "before start" {
				srv.Stop()
			}
			b := bridge.Start(bridge.Config{
				Client: client, Channel: uniqueChannel(t), Origin: "o", Handler: newRecorder(),
				Heartbeat: 20 * time.Millisecond, PublishTimeout: 100 * time.Millisecond, MaxMessageBytes: testMaxBytes,
				BackoffMin: 10 * time.Millisecond, BackoffMax: 100 * time.Millisecond,
				CloseTimeout: 200 * time.Millisecond,
			})
			if when == "after subscribing" {
				waitReady(t, b)
				srv.Stop()
				// The heartbeat finds the link dead, and the next session
				// gets stuck dialling the stopped server.
				require.Eventually(t, func() bool { return b.Stats().HeartbeatMisses > 0 }, waitFor, poll)
			}
			// Release whatever stays blocked at the end of the test, before
			// the leak check.
			t.Cleanup(srv.Kill)

			within(t, "Attach", func() {
				s, err := b.Attach(uniqueChannel(t), newRecorder(), nil, 0)
				require.NoError(t, err)
				s.Detach()
			})
			within(t, "Publish", func() {
				require.Error(t, b.Publish(context.Background(), "x"))
			})
			within(t, "Close", b.Close)
		})
	}
}

// within runs f, failing the test if it has not returned within waitFor.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(waitFor):
		t.Fatalf("%s blocked for %v on a stopped Redis", what, waitFor)
	}
}

// TestResubscribesPastADeadLink freezes every connection for good under a
// client that waits forever (ReadTimeout -1): the attempt to resubscribe
// gets stuck in its dial, and only a fresh connection can get through once
// the network lets new ones pass. The bridge must not wait for the stuck
// one.
func TestResubscribesPastADeadLink(t *testing.T) {
	srv := redistest.Start(t)
	proxy := redistest.NewProxy(t, srv.Addr())
	client := redis.NewClient(&redis.Options{Addr: proxy.Addr(), ReadTimeout: -1, WriteTimeout: -1})
	t.Cleanup(func() { _ = client.Close() })
	ch := uniqueChannel(t)
	rec := newRecorder()
	b := startBridge(t, client, ch, "origin-a", rec, withHeartbeat(20*time.Millisecond))
	t.Cleanup(proxy.CutAll) // runs before Close: releases the stuck calls
	waitReady(t, b)

	proxy.Partition()
	require.Eventually(t, func() bool { return b.Stats().HeartbeatMisses > 0 }, waitFor, poll)
	// Let the next attempt dial into the partition and get stuck there.
	dialled := proxy.Accepted()
	require.Eventually(t, func() bool { return proxy.Accepted() > dialled }, waitFor, poll)
	proxy.AdmitNew()
	require.Eventually(t, func() bool { return b.Stats().Subscriptions >= 2 }, waitFor, poll,
		"still waiting for a connection that will never answer")
	publish(t, srv.Client(t), ch, `{"slotId":"after","_origin":"b"}`)
	require.Equal(t, "inv:after", rec.skipResyncs(t))
}
