package slotcache

// Tests of everything that crosses Redis, against a real redis-server per
// test (internal/redistest): the wire format, cross-instance invalidation,
// interop with the seed's Node module, hostile messages, outages, dropped
// and half-open subscriptions, and a leak-free Close.
//
// Helpers here carry an rt prefix so they never collide with those of the
// other test files of the package.

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/slotcache/slotcache/internal/redistest"
)

// rtWait bounds every wait for something that should happen promptly. It is
// generous on purpose: it decides how long a broken build takes to fail,
// never whether a healthy one passes.
const rtWait = 10 * time.Second

const rtPoll = 5 * time.Millisecond

// seedOrigin is an instance ID as the seed's Node module makes them.
const seedOrigin = "inst_1700000000000_abc123"

var rtSeq atomic.Int64

// rtChannel returns a channel name no other test uses.
func rtChannel(t *testing.T) string {
	return fmt.Sprintf("slotcache-test:%s:%d", t.Name(), rtSeq.Add(1))
}

// rtEngine returns an engine on client and channel, closed at the end of
// the test. Its heartbeat is 1 s unless opts say otherwise: short enough
// for a fast suite, long enough that a loaded machine never takes a slow
// echo for a dead link in tests that are not about that.
func rtEngine(t *testing.T, client redis.UniversalClient, channel string, opts ...Option) *Engine {
	t.Helper()
	all := append([]Option{
		WithRedis(client),
		WithChannel(channel),
		WithTTL(time.Hour),
		WithHeartbeat(time.Second),
	}, opts...)
	e, err := New(all...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// rtReady waits until e's subscription is confirmed.
func rtReady(t *testing.T, e *Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rtWait)
	defer cancel()
	require.NoError(t, e.WaitReady(ctx))
}

// rtLoader counts its calls and returns "<slot>#<call>", so every load
// yields a value distinct from the previous ones.
type rtLoader struct{ calls atomic.Int64 }

func (l *rtLoader) load(_ context.Context, slotID string) (any, error) {
	return fmt.Sprintf("%s#%d", slotID, l.calls.Add(1)), nil
}

// rtGet gets slotID from e through l and checks that it is cached after.
func rtGet(t *testing.T, e *Engine, slotID string, l *rtLoader) any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rtWait)
	defer cancel()
	v, err := e.Get(ctx, slotID, l.load)
	require.NoError(t, err)
	require.True(t, e.Cached(slotID), "%s not cached after Get", slotID)
	return v
}

// rtPublish publishes payload as any other program on the channel would.
func rtPublish(t *testing.T, client *redis.Client, channel, payload string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rtWait)
	defer cancel()
	require.NoError(t, client.Publish(ctx, channel, payload).Err())
}

// rtSubscribe subscribes a plain client to channel and returns once Redis
// has confirmed it.
func rtSubscribe(t *testing.T, client *redis.Client, channel string) *redis.PubSub {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rtWait)
	defer cancel()
	ps := client.Subscribe(ctx, channel)
	t.Cleanup(func() { _ = ps.Close() })
	msg, err := ps.Receive(ctx)
	require.NoError(t, err)
	require.IsType(t, &redis.Subscription{}, msg)
	return ps
}

// rtReceive returns the next message of ps.
func rtReceive(t *testing.T, ps *redis.PubSub) *redis.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rtWait)
	defer cancel()
	msg, err := ps.ReceiveMessage(ctx)
	require.NoError(t, err)
	return msg
}

// rtWithin runs f in a goroutine and returns its error, failing the test if
// f has not returned within rtWait: for calls that must not hang.
func rtWithin(t *testing.T, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(rtWait):
		t.Fatalf("%s still blocked after %v", what, rtWait)
		return nil
	}
}

// rtProxiedClient returns a client that reaches Redis through proxy, with
// short timeouts so that its pooled connections give up on a frozen link.
func rtProxiedClient(t *testing.T, proxy *redistest.Proxy) *redis.Client {
	c := redis.NewClient(&redis.Options{
		Addr:         proxy.Addr(),
		DialTimeout:  time.Second,
		ReadTimeout:  200 * time.Millisecond,
		WriteTimeout: 200 * time.Millisecond,
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Behaviour 8: Invalidate and InvalidateAll drop locally, then publish the
// seed's exact bytes, JSON.stringify({ slotId, _origin }).
func TestRedisInvalidatePublishesSeedWireFormat(t *testing.T) {
	srv := redistest.Start(t)
	ch := rtChannel(t)
	e := rtEngine(t, srv.Client(t), ch, WithOrigin(seedOrigin))
	rtReady(t, e)
	sub := rtSubscribe(t, srv.Client(t), ch)
	ctx := context.Background()
	var l rtLoader

	rtGet(t, e, "compat:x", &l)
	require.NoError(t, e.Invalidate(ctx, "compat:x"))
	require.False(t, e.Cached("compat:x"))
	msg := rtReceive(t, sub)
	require.Equal(t, ch, msg.Channel)
	require.Equal(t, `{"slotId":"compat:x","_origin":"inst_1700000000000_abc123"}`, msg.Payload)

	rtGet(t, e, "compat:a", &l)
	rtGet(t, e, "compat:b", &l)
	require.NoError(t, e.InvalidateAll(ctx))
	require.False(t, e.Cached("compat:a"))
	require.False(t, e.Cached("compat:b"))
	msg = rtReceive(t, sub)
	require.Equal(t, `{"slotId":"*","_origin":"inst_1700000000000_abc123"}`, msg.Payload)

	// A slot not cached here is still announced: another instance may
	// hold it.
	require.NoError(t, e.Invalidate(ctx, "compat:never-loaded"))
	msg = rtReceive(t, sub)
	require.Equal(t, `{"slotId":"compat:never-loaded","_origin":"inst_1700000000000_abc123"}`, msg.Payload)

	// The default origin is 128 random bits, different per engine.
	e2 := rtEngine(t, srv.Client(t), ch)
	rtReady(t, e2)
	require.Regexp(t, `^[0-9a-f]{32}$`, e2.Origin())
	require.NoError(t, e2.Invalidate(ctx, "compat:x"))
	msg = rtReceive(t, sub)
	require.Equal(t, `{"slotId":"compat:x","_origin":"`+e2.Origin()+`"}`, msg.Payload)
	require.NotEqual(t, e2.Origin(), rtEngine(t, srv.Client(t), ch).Origin())

	require.Equal(t, uint64(3), e.Stats().Invalidations)
	require.Zero(t, e.Stats().PublishErrors)
}

// Behaviour 8: a failed publish is reported as an error, after a bounded
// time, and the local drop has happened regardless.
func TestRedisInvalidateReportsFailedPublish(t *testing.T) {
	t.Run("redis killed", func(t *testing.T) {
		srv := redistest.Start(t)
		e := rtEngine(t, srv.Client(t), rtChannel(t), WithPublishTimeout(500*time.Millisecond))
		rtReady(t, e)
		var l rtLoader
		rtGet(t, e, "x", &l)
		rtGet(t, e, "y", &l)

		srv.Kill()
		err := rtWithin(t, "Invalidate", func() error { return e.Invalidate(context.Background(), "x") })
		require.Error(t, err)
		require.ErrorContains(t, err, `"x"`)
		require.False(t, e.Cached("x"), "the local drop must happen even though the publish failed")
		require.True(t, e.Cached("y"))

		require.ErrorIs(t, err, ErrQueued)

		err = rtWithin(t, "InvalidateAll", func() error { return e.InvalidateAll(context.Background()) })
		require.ErrorIs(t, err, ErrQueued)
		require.False(t, e.Cached("y"))

		// The second one queued behind the first without trying Redis
		// and superseded it in the outbox; the first counts as a publish
		// error once go-redis reports its failure, the outbox's retries
		// not at all.
		require.Eventually(t, func() bool { return e.Stats().PublishErrors == 1 }, rtWait, rtPoll)
		st := e.Stats()
		require.Equal(t, uint64(2), st.OutboxQueued)
		require.Equal(t, uint64(2), st.Invalidations)

		// The engine keeps working locally.
		rtGet(t, e, "x", &l)
		require.Equal(t, int64(3), l.calls.Load())
	})

	// A link that never answers, with a client whose reads never time out:
	// only the caller's deadline (or the publish timeout) bounds the call.
	t.Run("redis frozen", func(t *testing.T) {
		srv := redistest.Start(t)
		proxy := redistest.NewProxy(t, srv.Addr())
		client := redis.NewClient(&redis.Options{Addr: proxy.Addr(), ReadTimeout: -1, WriteTimeout: -1})
		t.Cleanup(func() { _ = client.Close() })
		e := rtEngine(t, client, rtChannel(t), WithHeartbeat(0), WithMaxStaleness(0), WithPublishTimeout(time.Hour))
		rtReady(t, e)
		var l rtLoader
		rtGet(t, e, "x", &l)
		// Leave an idle pooled connection for the next publish, then
		// freeze it.
		require.NoError(t, e.Invalidate(context.Background(), "warm"))
		proxy.Freeze()
		// At the end, cut the frozen link so that the abandoned publish
		// returns before the clients close.
		t.Cleanup(proxy.CutAll)

		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		err := rtWithin(t, "Invalidate on a frozen link", func() error { return e.Invalidate(ctx, "x") })
		if err == nil {
			proxy.CutAll()
		}
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.ErrorIs(t, err, ErrQueued)
		require.False(t, e.Cached("x"))
		require.Equal(t, uint64(1), e.Stats().OutboxQueued)
	})
}

// Behaviour 9: two engines on one channel invalidate each other, one slot
// or all of them, and ignore their own echoes.
func TestRedisCrossInstanceInvalidation(t *testing.T) {
	srv := redistest.Start(t)
	ch := rtChannel(t)
	a := rtEngine(t, srv.Client(t), ch)
	b := rtEngine(t, srv.Client(t), ch)
	rtReady(t, a)
	rtReady(t, b)
	require.NotEqual(t, a.Origin(), b.Origin())
	ctx := context.Background()
	var la, lb rtLoader

	v1 := rtGet(t, b, "s", &lb)
	rtGet(t, b, "other", &lb)
	rtGet(t, a, "s", &la)
	rtGet(t, a, "mine", &la)

	require.NoError(t, a.Invalidate(ctx, "s"))
	require.False(t, a.Cached("s"))
	require.Eventually(t, func() bool { return !b.Cached("s") }, rtWait, rtPoll)
	require.Equal(t, uint64(1), b.Stats().CrossProcessInvalidations)
	require.True(t, b.Cached("other"), "only the invalidated slot drops")
	calls := lb.calls.Load()
	v2 := rtGet(t, b, "s", &lb)
	require.Equal(t, calls+1, lb.calls.Load(), "B must reload after A's invalidation")
	require.NotEqual(t, v1, v2)

	// InvalidateAll drops every slot of B.
	rtGet(t, b, "s2", &lb)
	rtGet(t, b, "s3", &lb)
	require.NoError(t, a.InvalidateAll(ctx))
	require.Eventually(t, func() bool {
		return !b.Cached("s") && !b.Cached("s2") && !b.Cached("s3") && !b.Cached("other")
	}, rtWait, rtPoll)
	require.Equal(t, uint64(2), b.Stats().CrossProcessInvalidations)
	calls = lb.calls.Load()
	rtGet(t, b, "s2", &lb)
	require.Equal(t, calls+1, lb.calls.Load())

	// And the other way round.
	rtGet(t, a, "t", &la)
	require.NoError(t, b.Invalidate(ctx, "t"))
	require.Eventually(t, func() bool { return !a.Cached("t") }, rtWait, rtPoll)
	require.Equal(t, uint64(1), a.Stats().CrossProcessInvalidations,
		"A's own two messages must not count as invalidations from elsewhere")
}

// Behaviour 9: a Node instance running the seed module shares the channel.
// Its messages carry a foreign origin, or none at all; both invalidate.
func TestRedisSeedInstanceMessagesInvalidate(t *testing.T) {
	srv := redistest.Start(t)
	ch := rtChannel(t)
	e := rtEngine(t, srv.Client(t), ch)
	rtReady(t, e)
	node := srv.Client(t)
	var l rtLoader
	for _, s := range []string{"compat:x", "compat:y", "compat:z", "compat:w"} {
		rtGet(t, e, s, &l)
	}

	rtPublish(t, node, ch, `{"slotId":"compat:x","_origin":"`+seedOrigin+`"}`)
	require.Eventually(t, func() bool { return !e.Cached("compat:x") }, rtWait, rtPoll)

	rtPublish(t, node, ch, `{"slotId":"compat:y"}`)
	require.Eventually(t, func() bool { return !e.Cached("compat:y") }, rtWait, rtPoll)
	require.True(t, e.Cached("compat:z"))
	require.True(t, e.Cached("compat:w"))

	rtPublish(t, node, ch, `{"slotId":"*","_origin":"`+seedOrigin+`"}`)
	require.Eventually(t, func() bool { return !e.Cached("compat:z") && !e.Cached("compat:w") }, rtWait, rtPoll)

	st := e.Stats()
	require.Equal(t, uint64(3), st.CrossProcessInvalidations)
	require.Zero(t, st.MalformedMessages)
	require.Zero(t, st.Invalidations, "remote invalidations are not this engine's own")
}

// Behaviour 9: a message carrying the engine's own origin is its own echo
// and changes nothing, whoever publishes it.
func TestRedisOwnOriginIsSkipped(t *testing.T) {
	srv := redistest.Start(t)
	ch := rtChannel(t)
	e := rtEngine(t, srv.Client(t), ch)
	rtReady(t, e)
	raw := srv.Client(t)
	var l rtLoader
	rtGet(t, e, "x", &l)
	rtGet(t, e, "y", &l)

	rtPublish(t, raw, ch, `{"slotId":"x","_origin":"`+e.Origin()+`"}`)
	rtPublish(t, raw, ch, `{"slotId":"*","_origin":"`+e.Origin()+`"}`)
	// Messages on a channel arrive in order: once this foreign one is
	// applied, the two before it have been handled.
	rtPublish(t, raw, ch, `{"slotId":"sentinel","_origin":"`+seedOrigin+`"}`)
	require.Eventually(t, func() bool { return e.Stats().CrossProcessInvalidations == 1 }, rtWait, rtPoll)

	require.True(t, e.Cached("x"), "own echo invalidated a slot")
	require.True(t, e.Cached("y"), "own echo of InvalidateAll flushed the cache")
	require.Equal(t, int64(2), l.calls.Load())
}

// Behaviour 9: nothing another program sends stops the bridge. Malformed
// and oversized messages are ignored and counted; a valid one after them
// still applies.
func TestRedisMalformedMessagesAreIgnored(t *testing.T) {
	srv := redistest.Start(t)
	ch := rtChannel(t)
	e := rtEngine(t, srv.Client(t), ch)
	rtReady(t, e)
	raw := srv.Client(t)
	var l rtLoader
	rtGet(t, e, "victim", &l)

	bad := []string{
		"not json",
		`{"slotId":"victim"`,
		`{"slotId":5}`,
		`{"slotId":null}`,
		`{"slotId":""}`,
		`{"slotId":["victim"]}`,
		`{"_origin":"` + seedOrigin + `"}`,
		`{}`,
		"null",
		`["victim"]`,
		`[{"slotId":"victim"}]`,
		`"victim"`,
		"42",
		`{"SlotId":"victim"}`,
		`{"slotId":"victim","_origin":7}`,
		"\x00\xff\xfe\x80\x01junk\x00",
		`{"slotId":"victim","pad":"` + strings.Repeat("a", 1<<20) + `"}`,
		strings.Repeat("x", 1<<20),
	}
	for _, p := range bad {
		rtPublish(t, raw, ch, p)
	}
	rtPublish(t, raw, ch, `{"slotId":"sentinel","_origin":"`+seedOrigin+`"}`)
	require.Eventually(t, func() bool { return e.Stats().CrossProcessInvalidations == 1 }, rtWait, rtPoll)

	st := e.Stats()
	require.Equal(t, uint64(len(bad)), st.MalformedMessages)
	require.True(t, e.Cached("victim"), "a malformed message invalidated a slot")
	require.Equal(t, uint64(1), st.Subscriptions, "a malformed message cost the subscription")

	rtPublish(t, raw, ch, `{"slotId":"victim","_origin":"`+seedOrigin+`"}`)
	require.Eventually(t, func() bool { return !e.Cached("victim") }, rtWait, rtPoll)
	require.Equal(t, uint64(2), e.Stats().CrossProcessInvalidations)
}

// Behaviour 10: New does not wait for Redis. The engine works locally while
// Redis is away and connects by itself once it is there; what it cached
// while it could not hear invalidations is dropped then.
func TestRedisUnreachableAtNew(t *testing.T) {
	srv := redistest.Start(t)
	srv.Kill() // nothing listens on srv.Addr() now
	ch := rtChannel(t)
	e := rtEngine(t, srv.Client(t), ch, WithPublishTimeout(500*time.Millisecond), WithHeartbeat(50*time.Millisecond))

	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, e.WaitReady(canceled), context.Canceled, "ready without Redis")

	var l rtLoader
	v := rtGet(t, e, "x", &l)
	got, err := e.Get(context.Background(), "x", l.load)
	require.NoError(t, err)
	require.Equal(t, v, got)
	require.Equal(t, int64(1), l.calls.Load())
	require.Equal(t, uint64(1), e.Stats().Hits)

	err = rtWithin(t, "Invalidate", func() error { return e.Invalidate(context.Background(), "x") })
	require.Error(t, err)
	require.False(t, e.Cached("x"))
	rtGet(t, e, "x", &l)
	require.Equal(t, int64(2), l.calls.Load())

	srv.Restart()
	rtReady(t, e)
	require.False(t, e.Cached("x"), "an entry cached while deaf to invalidations survived the subscription")

	// Invalidations flow both ways.
	peer := rtEngine(t, srv.Client(t), ch)
	rtReady(t, peer)
	var lp rtLoader
	rtGet(t, e, "y", &l)
	rtGet(t, peer, "z", &lp)
	require.NoError(t, peer.Invalidate(context.Background(), "y"))
	require.Eventually(t, func() bool { return !e.Cached("y") }, rtWait, rtPoll)
	require.NoError(t, e.Invalidate(context.Background(), "z"))
	require.Eventually(t, func() bool { return !peer.Cached("z") }, rtWait, rtPoll)
	require.Equal(t, uint64(1), e.Stats().Subscriptions)
}

// Behaviour 10: when the subscription drops (Redis restarted, or the server
// kills the subscriber), the engine resubscribes by itself, flushes what it
// cached (it may have missed invalidations meanwhile), and invalidations
// flow again.
func TestRedisResubscribeFlushes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		disrupt func(*redistest.Server)
	}{
		{"restart", func(s *redistest.Server) { s.Restart() }},
		{"subscriber killed", func(s *redistest.Server) { s.KillPubSubClients() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t)
			ch := rtChannel(t)
			a := rtEngine(t, srv.Client(t), ch)
			b := rtEngine(t, srv.Client(t), ch)
			rtReady(t, a)
			rtReady(t, b)
			var la, lb rtLoader
			rtGet(t, a, "x", &la)
			require.Equal(t, uint64(1), a.Stats().Subscriptions)

			tc.disrupt(srv)

			require.Eventually(t, func() bool { return a.Stats().Subscriptions >= 2 }, rtWait, rtPoll)
			// The flush comes before the count.
			require.False(t, a.Cached("x"), "entry cached before the drop survived the resubscription")
			require.Eventually(t, func() bool { return b.Stats().Subscriptions >= 2 }, rtWait, rtPoll)

			// Invalidations flow again, both ways.
			rtGet(t, a, "y", &la)
			rtGet(t, b, "z", &lb)
			cpi := a.Stats().CrossProcessInvalidations
			require.NoError(t, b.Invalidate(context.Background(), "y"))
			require.Eventually(t, func() bool { return !a.Cached("y") }, rtWait, rtPoll)
			require.Greater(t, a.Stats().CrossProcessInvalidations, cpi)
			require.NoError(t, a.Invalidate(context.Background(), "z"))
			require.Eventually(t, func() bool { return !b.Cached("z") }, rtWait, rtPoll)
			require.Zero(t, a.Stats().HeartbeatMisses)
		})
	}
}

// Behaviour 10: a half-open link (sockets open, nothing flows) is detected
// by the heartbeat alone: the engine flushes, subscribes afresh over a new
// connection, and hears another engine's invalidations again.
func TestRedisHalfOpenDetectedByHeartbeat(t *testing.T) {
	srv := redistest.Start(t)
	proxy := redistest.NewProxy(t, srv.Addr())
	ch := rtChannel(t)
	a := rtEngine(t, rtProxiedClient(t, proxy), ch, WithHeartbeat(50*time.Millisecond), WithPublishTimeout(5*time.Second))
	b := rtEngine(t, srv.Client(t), ch) // connected directly
	rtReady(t, a)
	rtReady(t, b)
	var la, lb rtLoader
	rtGet(t, a, "x", &la)

	proxy.Freeze()

	require.Eventually(t, func() bool { return a.Stats().HeartbeatMisses > 0 }, rtWait, rtPoll)
	// The flush comes before the count.
	require.False(t, a.Cached("x"), "entry cached before the partition survived it")
	require.Eventually(t, func() bool { return a.Stats().Subscriptions >= 2 }, rtWait, rtPoll)

	rtGet(t, a, "y", &la)
	cpi := a.Stats().CrossProcessInvalidations
	require.NoError(t, b.Invalidate(context.Background(), "y"))
	require.Eventually(t, func() bool { return !a.Cached("y") }, rtWait, rtPoll)
	require.Greater(t, a.Stats().CrossProcessInvalidations, cpi)

	// A's own publishes get through again too.
	rtGet(t, b, "z", &lb)
	require.NoError(t, a.Invalidate(context.Background(), "z"))
	require.Eventually(t, func() bool { return !b.Cached("z") }, rtWait, rtPoll)
}

// Behaviour 11: Close stops everything the engines started with Redis in
// play, whether connected or still trying to connect, and closes a client
// it dialled itself; Get after Close returns ErrClosed.
func TestRedisCloseIsLeakFree(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	srv := redistest.Start(t)
	dead := redistest.Start(t)
	dead.Kill()
	ch := rtChannel(t)
	clientA := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	clientB := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	clientDead := redis.NewClient(&redis.Options{Addr: dead.Addr()})

	newEngine := func(opts ...Option) *Engine {
		e, err := New(append([]Option{WithChannel(ch), WithHeartbeat(20 * time.Millisecond)}, opts...)...)
		require.NoError(t, err)
		return e
	}
	a := newEngine(WithRedis(clientA))
	b := newEngine(WithRedis(clientB))
	unreachable := newEngine(WithRedis(clientDead))
	// An engine that dials its own client from REDIS_URL, and must close it.
	t.Setenv("REDIS_URL", srv.URL())
	owned := newEngine(FromEnv())
	for _, e := range []*Engine{a, b, owned} {
		rtReady(t, e)
	}

	var l rtLoader
	rtGet(t, b, "x", &l)
	rtGet(t, owned, "x", &l)
	rtGet(t, unreachable, "x", &l)
	require.NoError(t, a.Invalidate(context.Background(), "x"))
	require.Eventually(t, func() bool { return !b.Cached("x") && !owned.Cached("x") }, rtWait, rtPoll)

	for _, e := range []*Engine{a, b, unreachable, owned} {
		require.NoError(t, rtWithin(t, "Close", e.Close))
		_, err := e.Get(context.Background(), "x", l.load)
		require.ErrorIs(t, err, ErrClosed)
		require.ErrorIs(t, e.Invalidate(context.Background(), "x"), ErrClosed)
		require.ErrorIs(t, e.InvalidateAll(context.Background()), ErrClosed)
		require.False(t, e.Cached("x"))
		require.NoError(t, e.Close(), "a second Close is harmless")
	}
	// The engines left the clients they were given open.
	require.NoError(t, clientA.Ping(context.Background()).Err())

	require.NoError(t, clientA.Close())
	require.NoError(t, clientB.Close())
	require.NoError(t, clientDead.Close())
	srv.Kill()
	goleak.VerifyNone(t, ignore)
}
