package bridge_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/slotcache/slotcache/bridge"
	"github.com/slotcache/slotcache/internal/redistest"
)

// TestMain fails the package if any test leaves a goroutine behind: every
// bridge is closed, and every client and server is closed by its test's
// cleanups before this check runs.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitFor bounds every wait for something that should happen promptly. It
// is generous on purpose: it only decides how long a broken build takes to
// fail, never whether a healthy one passes.
const waitFor = 10 * time.Second

const poll = 5 * time.Millisecond

// recorder is the engine side of a bridge, as a test double: it records
// every call in order. Redis stays real.
type recorder struct {
	events    chan string
	watermark atomic.Pointer[time.Time] // the latest, kept apart from events
}

func newRecorder() *recorder { return &recorder{events: make(chan string, 4096)} }

func (r *recorder) Invalidate(slotID string) { r.events <- "inv:" + slotID }
func (r *recorder) InvalidateAll()           { r.events <- "all" }
func (r *recorder) Resync()                  { r.events <- "resync" }
func (r *recorder) Filled(slotID string)     { r.events <- "filled:" + slotID }
func (r *recorder) Watermark(sent time.Time) { r.watermark.Store(&sent) }

// next returns the next recorded call, failing the test if none comes.
func (r *recorder) next(t *testing.T) string {
	t.Helper()
	select {
	case ev := <-r.events:
		return ev
	case <-time.After(waitFor):
		t.Fatalf("no handler call within %v", waitFor)
		return ""
	}
}

// expect checks that the next recorded calls are exactly want, in order.
func (r *recorder) expect(t *testing.T, want ...string) {
	t.Helper()
	got := make([]string, 0, len(want))
	for range want {
		got = append(got, r.next(t))
	}
	require.Equal(t, want, got)
}

// skipResyncs returns the next call that is not a resync.
func (r *recorder) skipResyncs(t *testing.T) string {
	t.Helper()
	for {
		if ev := r.next(t); ev != "resync" {
			return ev
		}
	}
}

var channelSeq atomic.Int64

// uniqueChannel returns a channel name no other test uses.
func uniqueChannel(t *testing.T) string {
	return fmt.Sprintf("slotcache-test:%s:%d", t.Name(), channelSeq.Add(1))
}

type bridgeOpt func(*bridge.Config)

func withHeartbeat(d time.Duration) bridgeOpt {
	return func(c *bridge.Config) { c.Heartbeat = d }
}

func withPublishTimeout(d time.Duration) bridgeOpt {
	return func(c *bridge.Config) { c.PublishTimeout = d }
}

// startBridge starts a bridge on client and channel with test-friendly
// settings and closes it at the end of the test.
func startBridge(t *testing.T, client redis.UniversalClient, channel, origin string, h bridge.Handler, opts ...bridgeOpt) *bridge.Bridge {
	t.Helper()
	cfg := bridge.Config{
		Client:          client,
		Channel:         channel,
		Origin:          origin,
		Handler:         h,
		Heartbeat:       time.Second,
		PublishTimeout:  2 * time.Second,
		MaxMessageBytes: testMaxBytes,
		BackoffMin:      10 * time.Millisecond,
		BackoffMax:      200 * time.Millisecond,
	}
	for _, o := range opts {
		o(&cfg)
	}
	b := bridge.Start(cfg)
	t.Cleanup(b.Close)
	return b
}

func waitReady(t *testing.T, b *bridge.Bridge) {
	t.Helper()
	select {
	case <-b.Ready():
	case <-time.After(waitFor):
		t.Fatalf("bridge not ready within %v", waitFor)
	}
}

func isReady(b *bridge.Bridge) bool {
	select {
	case <-b.Ready():
		return true
	default:
		return false
	}
}

// rawSubscribe subscribes a plain go-redis client, as any other program on
// the channel would, and returns once Redis has confirmed the subscription.
func rawSubscribe(t *testing.T, client *redis.Client, channels ...string) *redis.PubSub {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	ps := client.Subscribe(ctx, channels...)
	t.Cleanup(func() { _ = ps.Close() })
	for range channels {
		msg, err := ps.Receive(ctx)
		require.NoError(t, err)
		require.IsType(t, &redis.Subscription{}, msg)
	}
	return ps
}

// receive returns the next message of ps.
func receive(t *testing.T, ps *redis.PubSub) *redis.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	msg, err := ps.ReceiveMessage(ctx)
	require.NoError(t, err)
	return msg
}

func publish(t *testing.T, client *redis.Client, channel, payload string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	require.NoError(t, client.Publish(ctx, channel, payload).Err())
}

func TestStartReadyResyncOnFirstSubscription(t *testing.T) {
	srv := redistest.Start(t)
	ch := uniqueChannel(t)
	rec := newRecorder()
	b := startBridge(t, srv.Client(t), ch, "origin-a", rec)

	waitReady(t, b)
	// Ready means confirmed by Redis, and the confirmation asked for a
	// resync before anything else.
	rec.expect(t, "resync")
	require.Equal(t, uint64(1), b.Stats().Subscriptions)
	srv.WaitSubscribers(t, ch, 1)
}

// TestPublishWireFormat checks the exact bytes another program on the
// channel receives: the seed's JSON.stringify({ slotId, _origin }).
func TestPublishWireFormat(t *testing.T) {
	srv := redistest.Start(t)
	ch := uniqueChannel(t)
	b := startBridge(t, srv.Client(t), ch, "origin-a", newRecorder())
	waitReady(t, b)
	sub := rawSubscribe(t, srv.Client(t), ch)

	ctx := context.Background()
	require.NoError(t, b.Publish(ctx, "compat:x"))
	require.NoError(t, b.Publish(ctx, bridge.All))
	require.NoError(t, b.Publish(ctx, "compat:a<b>&c"))

	for _, want := range []string{
		`{"slotId":"compat:x","_origin":"origin-a"}`,
		`{"slotId":"*","_origin":"origin-a"}`,
		`{"slotId":"compat:a<b>&c","_origin":"origin-a"}`,
	} {
		msg := receive(t, sub)
		require.Equal(t, ch, msg.Channel)
		require.Equal(t, want, msg.Payload)
	}
	require.Zero(t, b.Stats().PublishErrors)
}

// TestHeartbeatStaysOffTheChannel checks that the heartbeat, which other
// instances (including the seed's Node module) must never see, does not go
// to the invalidation channel.
func TestHeartbeatStaysOffTheChannel(t *testing.T) {
	srv := redistest.Start(t)
	ch := uniqueChannel(t)
	b := startBridge(t, srv.Client(t), ch, "origin-a", newRecorder(), withHeartbeat(20*time.Millisecond))
	waitReady(t, b)

	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	ps := srv.Client(t).PSubscribe(ctx, ch+"*")
	t.Cleanup(func() { _ = ps.Close() })
	_, err := ps.Receive(ctx)
	require.NoError(t, err)

	// Several heartbeats go by, on a channel of their own...
	for heartbeats := 0; heartbeats < 3; {
		msg, err := ps.ReceiveMessage(ctx)
		require.NoError(t, err)
		require.NotEqual(t, ch, msg.Channel, "heartbeat published on the invalidation channel: %q", msg.Payload)
		heartbeats++
	}
	// ...and the first message on the invalidation channel is the
	// invalidation.
	require.NoError(t, b.Publish(ctx, "compat:x"))
	for {
		msg, err := ps.ReceiveMessage(ctx)
		require.NoError(t, err)
		if msg.Channel == ch {
			require.Equal(t, `{"slotId":"compat:x","_origin":"origin-a"}`, msg.Payload)
			break
		}
	}
}

// TestEchoSkipped checks that the bridge ignores its own messages, with
// neither an Invalidate nor an InvalidateAll reaching the handler.
func TestEchoSkipped(t *testing.T) {
	srv := redistest.Start(t)
	ch := uniqueChannel(t)
	rec := newRecorder()
	b := startBridge(t, srv.Client(t), ch, "origin-a", rec)
	waitReady(t, b)
	rec.expect(t, "resync")

	ctx := context.Background()
	require.NoError(t, b.Publish(ctx, "compat:x"))
	require.NoError(t, b.Publish(ctx, bridge.All))
	// Another program publishing with our origin is an echo too.
	raw := srv.Client(t)
	publish(t, raw, ch, `{"slotId":"compat:y","_origin":"origin-a"}`)
	// Messages on one channel arrive in order: once this foreign one is
	// applied, the three before it were seen.
	publish(t, raw, ch, `{"slotId":"sentinel","_origin":"origin-b"}`)

	rec.expect(t, "inv:sentinel")
	st := b.Stats()
	require.Equal(t, uint64(3), st.Echoes)
	require.Equal(t, uint64(1), st.Applied)
	require.Zero(t, st.Malformed)
}

// TestForeignMessagesApplied checks what a Node instance of the seed module
// sends: an invalidation of one slot, of all slots, and a message without
// _origin, which counts as foreign.
func TestForeignMessagesApplied(t *testing.T) {
	srv := redistest.Start(t)
	ch := uniqueChannel(t)
	rec := newRecorder()
	b := startBridge(t, srv.Client(t), ch, "origin-a", rec)
	waitReady(t, b)
	rec.expect(t, "resync")

	raw := srv.Client(t)
	publish(t, raw, ch, `{"slotId":"compat:x","_origin":"inst_1700000000000_abc123"}`)
	publish(t, raw, ch, `{"slotId":"*","_origin":"inst_1700000000000_abc123"}`)
	publish(t, raw, ch, `{"slotId":"compat:y"}`)
	publish(t, raw, ch, `{"slotId":"compat:z","_origin":null,"extra":1}`)

	rec.expect(t, "inv:compat:x", "all", "inv:compat:y", "inv:compat:z")
	st := b.Stats()
	require.Equal(t, uint64(4), st.Applied)
	require.Zero(t, st.Echoes)
	require.Zero(t, st.Malformed)
}

// TestMalformedIgnored checks that nothing another program sends can stop
// the bridge: every malformed or oversized message is counted and skipped,
// and a valid one after them still applies.
func TestMalformedIgnored(t *testing.T) {
	srv := redistest.Start(t)
	ch := uniqueChannel(t)
	rec := newRecorder()
	b := startBridge(t, srv.Client(t), ch, "origin-a", rec)
	waitReady(t, b)
	rec.expect(t, "resync")

	bad := []string{
		"not json",
		`{"slotId":5}`,
		`{"slotId":null}`,
		`{"slotId":""}`,
		`{"_origin":"o"}`,
		`{}`,
		"null",
		`["compat:x"]`,
		`"compat:x"`,
		`{"SlotId":"compat:x"}`,
		`{"slotId":"compat:x","_origin":7}`,
		`{"slotId":"compat:x"`,
		"\x00\xff\xfe\x80junk\x01",
		`{"slotId":"compat:x","pad":"` + strings.Repeat("a", 1<<20) + `"}`,
		strings.Repeat("z", 1<<20),
	}
	raw := srv.Client(t)
	for _, p := range bad {
		publish(t, raw, ch, p)
	}
	publish(t, raw, ch, `{"slotId":"compat:ok","_origin":"b"}`)

	rec.expect(t, "inv:compat:ok")
	st := b.Stats()
	require.Equal(t, uint64(len(bad)), st.Malformed)
	require.Equal(t, uint64(1), st.Applied)
	require.Equal(t, uint64(1), st.Subscriptions, "a malformed message must not cost the subscription")
}

// TestResyncOnEverySubscription checks that each resubscription, after the
// server dropped the subscriber or restarted, asks the engine to resync
// before it is counted, and that messages flow again afterwards.
func TestResyncOnEverySubscription(t *testing.T) {
	srv := redistest.Start(t)
	ch := uniqueChannel(t)
	rec := newRecorder()
	b := startBridge(t, srv.Client(t), ch, "origin-a", rec)
	waitReady(t, b)
	rec.expect(t, "resync")
	raw := srv.Client(t)

	// The server drops the subscriber.
	require.GreaterOrEqual(t, srv.KillPubSubClients(), int64(1))
	rec.expect(t, "resync")
	require.Eventually(t, func() bool { return b.Stats().Subscriptions == 2 }, waitFor, poll)
	srv.WaitSubscribers(t, ch, 1)
	publish(t, raw, ch, `{"slotId":"after-drop","_origin":"b"}`)
	require.Equal(t, "inv:after-drop", rec.skipResyncs(t))

	// The server restarts, empty.
	before := b.Stats().Subscriptions
	srv.Restart()
	require.Equal(t, "resync", rec.next(t))
	require.Eventually(t, func() bool { return b.Stats().Subscriptions > before }, waitFor, poll)
	srv.WaitSubscribers(t, ch, 1)
	publish(t, raw, ch, `{"slotId":"after-restart","_origin":"b"}`)
	require.Equal(t, "inv:after-restart", rec.skipResyncs(t))
	require.Zero(t, b.Stats().HeartbeatMisses)
}

// TestSubscriptionsCountedAfterResync checks the order a watcher of the
// stats relies on: when Subscriptions has grown, the resync has happened.
func TestSubscriptionsCountedAfterResync(t *testing.T) {
	srv := redistest.Start(t)
	ch := uniqueChannel(t)
	var bp atomic.Pointer[bridge.Bridge]
	var resyncs, seenBehind atomic.Int64
	h := &funcHandler{resync: func() {
		// Resync is called for the n-th subscription before it is
		// counted.
		if n, b := resyncs.Add(1), bp.Load(); b != nil && int64(b.Stats().Subscriptions) >= n {
			seenBehind.Add(1)
		}
	}}
	b := startBridge(t, srv.Client(t), ch, "origin-a", h)
	bp.Store(b)
	waitReady(t, b)
	for i := 2; i <= 3; i++ {
		srv.KillPubSubClients()
		require.Eventually(t, func() bool { return b.Stats().Subscriptions == uint64(i) }, waitFor, poll)
		require.GreaterOrEqual(t, resyncs.Load(), int64(i))
	}
	require.Zero(t, seenBehind.Load())
}

type funcHandler struct{ resync func() }

func (h *funcHandler) Invalidate(string)   {}
func (h *funcHandler) InvalidateAll()      {}
func (h *funcHandler) Resync()             { h.resync() }
func (h *funcHandler) Filled(string)       {}
func (h *funcHandler) Watermark(time.Time) {}

// TestHeartbeatDetectsHalfOpen freezes the bridge's connections in a proxy:
// the sockets stay open and nothing errors, so only the missing heartbeat
// echo can tell. The bridge must resync, resubscribe through a fresh
// connection, and receive messages again. A message published meanwhile is
// lost, so the watermark must not pass it, not even across the
// resubscription, until the resync that replaces it has reached the
// handler.
func TestHeartbeatDetectsHalfOpen(t *testing.T) {
	srv := redistest.Start(t)
	proxy := redistest.NewProxy(t, srv.Addr())
	ch := uniqueChannel(t)
	rec := newRecorder()
	b := startBridge(t, proxiedClient(t, proxy), ch, "origin-a", rec, withHeartbeat(50*time.Millisecond))
	waitReady(t, b)
	rec.expect(t, "resync")

	proxy.Freeze()
	publish(t, srv.Client(t), ch, `{"slotId":"lost","_origin":"b"}`)
	published := time.Now()

	require.Eventually(t, func() bool { return b.Stats().HeartbeatMisses > 0 }, waitFor, poll)
	if w := rec.watermark.Load(); w != nil {
		require.True(t, w.Before(published), "the watermark passed a message lost on a frozen link")
	}
	require.Eventually(t, func() bool { return b.Stats().Subscriptions >= 2 }, waitFor, poll)
	// One resync for the dead subscription, one for the new one.
	rec.expect(t, "resync", "resync")
	require.Eventually(t, func() bool {
		w := rec.watermark.Load()
		return w != nil && w.After(published)
	}, waitFor, poll, "the watermark does not move again after resubscribing")

	// Subscriptions counts confirmations from the server: the new
	// subscriber is registered.
	publish(t, srv.Client(t), ch, `{"slotId":"after-freeze","_origin":"b"}`)
	require.Equal(t, "inv:after-freeze", rec.skipResyncs(t))
}

// proxiedClient returns a client that reaches Redis through proxy, with
// short timeouts so its pooled connections give up on a frozen link.
func proxiedClient(t *testing.T, proxy *redistest.Proxy) *redis.Client {
	c := redis.NewClient(&redis.Options{
		Addr:         proxy.Addr(),
		DialTimeout:  time.Second,
		ReadTimeout:  200 * time.Millisecond,
		WriteTimeout: 200 * time.Millisecond,
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestUnreachableAtStart checks that Start never waits for Redis, that
// Publish fails while Redis is away, and that the bridge connects by itself
// once Redis appears.
func TestUnreachableAtStart(t *testing.T) {
	srv := redistest.Start(t)
	srv.Kill() // nothing listens on srv.Addr() now
	client := srv.Client(t)
	ch := uniqueChannel(t)
	rec := newRecorder()
	b := startBridge(t, client, ch, "origin-a", rec, withPublishTimeout(500*time.Millisecond), withHeartbeat(20*time.Millisecond))

	require.False(t, isReady(b))
	err := b.Publish(context.Background(), "compat:x")
	require.Error(t, err)
	require.ErrorContains(t, err, "compat:x")
	require.Eventually(t, func() bool { return b.Stats().PublishErrors == 1 }, waitFor, poll)
	require.Zero(t, b.Stats().Subscriptions)

	srv.Restart()
	waitReady(t, b)
	// No subscription existed before, so there was nothing to find dead
	// or to resync: exactly one resync, for the first subscription.
	rec.expect(t, "resync")
	publish(t, srv.Client(t), ch, `{"slotId":"compat:y","_origin":"b"}`)
	rec.expect(t, "inv:compat:y")
	require.Zero(t, b.Stats().HeartbeatMisses)
	require.NoError(t, b.Publish(context.Background(), "compat:z"))
}

// TestUnansweredSubscribeIsNoMiss points the bridge at a server that
// accepts connections and never answers, like a hung Redis. Its attempts
// time out and are retried, but since no subscription was ever confirmed,
// none of them is a heartbeat miss and none flushes the engine's cache: a
// cache that cannot hear invalidations still serves within its TTL, as the
// seed does without Redis.
func TestUnansweredSubscribeIsNoMiss(t *testing.T) {
	hole := newBlackHole(t)
	client := redis.NewClient(&redis.Options{
		Addr:        hole.addr(),
		DialTimeout: time.Second,
		ReadTimeout: 100 * time.Millisecond, WriteTimeout: 100 * time.Millisecond,
	})
	t.Cleanup(func() { _ = client.Close() })
	rec := newRecorder()
	b := startBridge(t, client, uniqueChannel(t), "origin-a", rec, withHeartbeat(10*time.Millisecond))

	// Several attempts, each one stalled far longer than three heartbeats.
	require.Eventually(t, func() bool { return hole.accepted() >= 4 }, waitFor, poll)
	require.False(t, isReady(b))
	st := b.Stats()
	require.Zero(t, st.Subscriptions)
	require.Zero(t, st.HeartbeatMisses)
	select {
	case ev := <-rec.events:
		t.Fatalf("handler called without any subscription: %s", ev)
	default:
	}
}

// blackHole accepts TCP connections and never reads or writes.
type blackHole struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func newBlackHole(t *testing.T) *blackHole {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	h := &blackHole{ln: ln}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			h.mu.Lock()
			h.conns = append(h.conns, c)
			h.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		h.wg.Wait()
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, c := range h.conns {
			_ = c.Close()
		}
	})
	return h
}

func (h *blackHole) addr() string { return h.ln.Addr().String() }

func (h *blackHole) accepted() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}

// TestPublishBoundedOnFrozenRedis checks that Publish gives up at its
// timeout, or at the caller's deadline, on a link that never answers, even
// with a client whose own read timeout is disabled (go-redis ignores context
// deadlines on socket reads unless ContextTimeoutEnabled is set).
func TestPublishBoundedOnFrozenRedis(t *testing.T) {
	for _, tc := range []struct {
		name           string
		publishTimeout time.Duration
		callerTimeout  time.Duration
	}{
		{"publish timeout", 200 * time.Millisecond, 0},
		{"caller deadline", time.Hour, 100 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t)
			proxy := redistest.NewProxy(t, srv.Addr())
			client := redis.NewClient(&redis.Options{Addr: proxy.Addr(), ReadTimeout: -1, WriteTimeout: -1})
			t.Cleanup(func() { _ = client.Close() })
			b := startBridge(t, client, uniqueChannel(t), "origin-a", newRecorder(),
				withHeartbeat(0), withPublishTimeout(tc.publishTimeout))
			waitReady(t, b)
			// Leave an idle pooled connection for the next Publish to use,
			// then freeze it.
			require.NoError(t, b.Publish(context.Background(), "warm"))
			proxy.Freeze()
			// Cut the frozen link at the end, so that the abandoned call
			// returns before the leak check.
			t.Cleanup(proxy.CutAll)

			ctx := context.Background()
			if tc.callerTimeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.callerTimeout)
				defer cancel()
			}
			done := make(chan error, 1)
			go func() { done <- b.Publish(ctx, "compat:x") }()
			select {
			case err := <-done:
				require.ErrorIs(t, err, context.DeadlineExceeded)
				require.ErrorContains(t, err, "compat:x")
			case <-time.After(waitFor):
				proxy.CutAll() // release the stuck Publish
				t.Fatalf("Publish still blocked after %v on a frozen link", waitFor)
			}
			// Queued; a publish error only once the abandoned publish is
			// known to have failed, which on a frozen link may be never.
			require.Equal(t, uint64(1), b.Stats().Queued)
		})
	}
}

// TestCloseStopsGoroutines checks that Close stops everything the bridge
// started, with Redis up, down, or frozen, without closing the client,
// which belongs to the caller.
func TestCloseStopsGoroutines(t *testing.T) {
	for _, hb := range []time.Duration{20 * time.Millisecond, 0} {
		t.Run(fmt.Sprintf("connected, heartbeat %v", hb), func(t *testing.T) {
			srv := redistest.Start(t)
			client := srv.Client(t)
			ignore := goleak.IgnoreCurrent()
			ch := uniqueChannel(t)
			b := bridge.Start(bridge.Config{
				Client: client, Channel: ch, Origin: "o", Handler: newRecorder(),
				Heartbeat: hb, PublishTimeout: time.Second, MaxMessageBytes: testMaxBytes,
				BackoffMin: 10 * time.Millisecond, BackoffMax: 100 * time.Millisecond,
			})
			waitReady(t, b)
			require.NoError(t, b.Publish(context.Background(), "x"))
			closeWithin(t, b)
			goleak.VerifyNone(t, ignore)
			// The client is still usable: Close did not close it.
			require.NoError(t, client.Ping(context.Background()).Err())
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		srv := redistest.Start(t)
		srv.Kill()
		client := srv.Client(t)
		ignore := goleak.IgnoreCurrent()
		b := bridge.Start(bridge.Config{
			Client: client, Channel: uniqueChannel(t), Origin: "o", Handler: newRecorder(),
			Heartbeat: 20 * time.Millisecond, PublishTimeout: time.Second, MaxMessageBytes: testMaxBytes,
			BackoffMin: 10 * time.Millisecond, BackoffMax: 100 * time.Millisecond,
		})
		require.False(t, isReady(b))
		closeWithin(t, b)
		require.NoError(t, client.Close()) // stops the pool's redial probe
		goleak.VerifyNone(t, ignore)
	})
	t.Run("frozen", func(t *testing.T) {
		srv := redistest.Start(t)
		proxy := redistest.NewProxy(t, srv.Addr())
		client := proxiedClient(t, proxy)
		ignore := goleak.IgnoreCurrent()
		b := bridge.Start(bridge.Config{
			Client: client, Channel: uniqueChannel(t), Origin: "o", Handler: newRecorder(),
			Heartbeat: 20 * time.Millisecond, PublishTimeout: time.Second, MaxMessageBytes: testMaxBytes,
			BackoffMin: 10 * time.Millisecond, BackoffMax: 100 * time.Millisecond,
		})
		waitReady(t, b)
		proxy.Freeze()
		closeWithin(t, b)
		require.NoError(t, client.Close())
		proxy.Close()
		goleak.VerifyNone(t, ignore)
	})
}

// closeWithin closes b, failing the test if Close hangs.
func closeWithin(t *testing.T, b *bridge.Bridge) {
	t.Helper()
	done := make(chan struct{})
	go func() { b.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(waitFor):
		t.Fatalf("Close did not return within %v", waitFor)
	}
}
