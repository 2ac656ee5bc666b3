package bridge_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/bridge"
	"github.com/slotcache/slotcache/internal/logtest"
	"github.com/slotcache/slotcache/internal/redistest"
)

// TestOperatorLogs checks that an operator hears of a lost subscription at
// Warn with the reason, and of the resync after it at Info with the reason
// and the outage, for a dropped connection and for a dead one.
func TestOperatorLogs(t *testing.T) {
	srv := redistest.Start(t)
	proxy := redistest.NewProxy(t, srv.Addr())
	logs := &logtest.Recorder{}
	cfg := bridge.Config{
		Client: proxiedClient(t, proxy), Channel: uniqueChannel(t), Origin: "o", Handler: newRecorder(),
		Heartbeat: 30 * time.Millisecond, PublishTimeout: time.Second, MaxMessageBytes: testMaxBytes,
		BackoffMin: 10 * time.Millisecond, BackoffMax: 100 * time.Millisecond,
		Logger: slog.New(logs),
	}
	b := bridge.Start(cfg)
	t.Cleanup(b.Close)
	waitReady(t, b)
	require.False(t, logs.Has("INFO slotcache: resubscribed"), "the first subscription is no news")

	srv.KillPubSubClients()
	require.Eventually(t, func() bool { return b.Stats().Subscriptions >= 2 }, waitFor, poll)
	require.Eventually(t, func() bool {
		return logs.Has("WARN slotcache: Redis subscription lost", "err=") &&
			logs.Has("INFO slotcache: resubscribed", "reason=", "down=")
	}, waitFor, poll, "logs so far: %v", logs)

	proxy.Freeze()
	require.Eventually(t, func() bool {
		return logs.Has("WARN slotcache: no heartbeat echo", "silent=") &&
			logs.Has("INFO slotcache: resubscribed", "reason=no heartbeat echo")
	}, waitFor, poll, "logs so far: %v", logs)
}
