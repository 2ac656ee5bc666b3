package bridge_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/bridge"
	"github.com/slotcache/slotcache/internal/redistest"
)

// logRecorder is a slog.Handler that keeps "LEVEL msg key=value..." lines.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Level, r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, b.String())
	return nil
}

// String returns the lines so far, for failure messages.
func (l *logRecorder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// has reports whether a line starts with prefix and contains every part.
func (l *logRecorder) has(prefix string, parts ...string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
next:
	for _, line := range l.lines {
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		for _, p := range parts {
			if !strings.Contains(line, p) {
				continue next
			}
		}
		return true
	}
	return false
}

// TestOperatorLogs checks that an operator hears of a lost subscription at
// Warn with the reason, and of the resync after it at Info with the reason
// and the outage, for a dropped connection and for a dead one.
func TestOperatorLogs(t *testing.T) {
	srv := redistest.Start(t)
	proxy := redistest.NewProxy(t, srv.Addr())
	logs := &logRecorder{}
	cfg := bridge.Config{
		Client: proxiedClient(t, proxy), Channel: uniqueChannel(t), Origin: "o", Handler: newRecorder(),
		Heartbeat: 30 * time.Millisecond, PublishTimeout: time.Second, MaxMessageBytes: testMaxBytes,
		BackoffMin: 10 * time.Millisecond, BackoffMax: 100 * time.Millisecond,
		Logger: slog.New(logs),
	}
	b := bridge.Start(cfg)
	t.Cleanup(b.Close)
	waitReady(t, b)
	require.False(t, logs.has("INFO slotcache: resubscribed"), "the first subscription is no news")

	srv.KillPubSubClients()
	require.Eventually(t, func() bool { return b.Stats().Subscriptions >= 2 }, waitFor, poll)
	require.Eventually(t, func() bool {
		return logs.has("WARN slotcache: Redis subscription lost", "err=") &&
			logs.has("INFO slotcache: resubscribed", "reason=", "down=")
	}, waitFor, poll, "logs so far: %v", logs)

	proxy.Freeze()
	require.Eventually(t, func() bool {
		return logs.has("WARN slotcache: no heartbeat echo", "silent=") &&
			logs.has("INFO slotcache: resubscribed", "reason=no heartbeat echo")
	}, waitFor, poll, "logs so far: %v", logs)
}
