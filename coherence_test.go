package slotcache

// A history checker for the staleness bound (WithMaxStaleness): three
// instances read and write a shared source while Redis suffers a fault, and
// no read may return a value older than the bound allows.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/internal/redistest"
)

// Test settings: a bound of a few heartbeats, milliseconds long, so that a
// fault run lasts about a second.
const (
	hsHeartbeat  = 50 * time.Millisecond
	hsStaleness  = 200 * time.Millisecond
	hsSlots      = 4
	hsInstances  = 3
	hsRun        = 1200 * time.Millisecond
	hsFaultAfter = 300 * time.Millisecond
)

// hsSource is the system of record: a version per slot that writers bump.
type hsSource struct{ v [hsSlots]atomic.Int64 }

func (s *hsSource) load(_ context.Context, slotID string) (any, error) {
	var i int
	_, _ = fmt.Sscanf(slotID, "s%d", &i)
	return s.v[i].Load(), nil
}

// hsWrite is a write whose Invalidate returned without error at done: from
// done+bound on, no read may return a version below version.
type hsWrite struct {
	slot    int
	version int64
	done    time.Time
}

// hsRead is a Get that started at start on instance inst and returned
// version.
type hsRead struct {
	inst, slot int
	version    int64
	start      time.Time
}

// hsHistory runs readers on every engine and one writer over all of them,
// calls fault once after hsFaultAfter, and goes on until hsRun has passed,
// fault has returned for hsRun-hsFaultAfter and an invalidation has been
// published since (a server restarting on a loaded machine may take longer
// than the run), then returns what happened.
func hsHistory(t *testing.T, engines []*Engine, fault func()) ([]hsWrite, []hsRead) {
	t.Helper()
	src := &hsSource{}
	var (
		mu         sync.Mutex
		writes     []hsWrite
		reads      []hsRead
		wg         sync.WaitGroup
		faulted    atomic.Bool
		afterFault atomic.Int64 // writes published since fault returned
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i, e := range engines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				slot := rand.N(hsSlots)
				start := time.Now()
				v, err := e.Get(context.Background(), fmt.Sprintf("s%d", slot), src.load)
				if err != nil {
					continue
				}
				mu.Lock()
				reads = append(reads, hsRead{inst: i, slot: slot, version: hsVersion(v), start: start})
				mu.Unlock()
				time.Sleep(time.Millisecond) // a request rate, not a wait for anything
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			slot := rand.N(hsSlots)
			version := src.v[slot].Add(1)
			e := engines[rand.N(len(engines))]
			if err := e.Invalidate(context.Background(), fmt.Sprintf("s%d", slot)); err == nil {
				mu.Lock()
				writes = append(writes, hsWrite{slot: slot, version: version, done: time.Now()})
				mu.Unlock()
				if faulted.Load() {
					afterFault.Add(1)
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	time.Sleep(hsFaultAfter) // the workload runs without a fault first
	fault()
	faulted.Store(true)
	time.Sleep(hsRun - hsFaultAfter) // and goes on after it
	require.Eventually(t, func() bool { return afterFault.Load() > 0 }, 10*time.Second, 5*time.Millisecond,
		"no invalidation was published after the fault")
	cancel()
	wg.Wait()
	return writes, reads
}

// hsViolations returns the reads that returned a version older than a write
// that returned more than bound before the read started.
func hsViolations(writes []hsWrite, reads []hsRead, bound time.Duration) []string {
	var bad []string
	for _, r := range reads {
		for _, w := range writes {
			if w.slot == r.slot && w.version > r.version && r.start.Sub(w.done) > bound {
				bad = append(bad, fmt.Sprintf("instance %d read s%d version %d, %v after version %d was invalidated",
					r.inst, r.slot, r.version, r.start.Sub(w.done), w.version))
				break
			}
		}
	}
	return bad
}

// hsVersion is the version a Get returned: an int64 from the source, a
// float64 from the shared tier's JSON (WithFill).
func hsVersion(v any) int64 {
	if f, ok := v.(float64); ok {
		return int64(f)
	}
	return v.(int64)
}

// hsEngines starts one engine per client with the test bound and opts.
func hsEngines(t *testing.T, channel string, clients []redis.UniversalClient, bound time.Duration, opts ...Option) []*Engine {
	t.Helper()
	engines := make([]*Engine, len(clients))
	for i, c := range clients {
		engines[i] = rtEngine(t, c, channel, append([]Option{
			WithHeartbeat(hsHeartbeat), WithMaxStaleness(bound),
			WithPublishTimeout(100 * time.Millisecond)}, opts...)...)
	}
	return engines
}

// shortClient returns a client with timeouts short enough for fault tests.
func shortClient(t *testing.T, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{
		Addr: addr, DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond,
		MaxRetries: -1,
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestStalenessBoundUnderFaults runs the history under each fault that Redis
// or the network can inflict, and checks that no read violates the bound.
func TestStalenessBoundUnderFaults(t *testing.T) { stalenessUnderFaults(t, 1) }

// TestStalenessBoundUnderFaultsWithFill is TestStalenessBoundUnderFaults
// with the shared tier: a value filled from Redis counts as loaded when
// the local load started, however long ago the shared copy was loaded,
// which holds because every invalidation deletes the shared copy before
// it is published.
func TestStalenessBoundUnderFaultsWithFill(t *testing.T) {
	stalenessUnderFaults(t, 1, WithFill(FillPolicy{}))
}

// TestStalenessSoak repeats TestStalenessBoundUnderFaults for
// SLOTCACHE_SOAK_ROUNDS rounds (default 100, about ten minutes): rare
// interleavings show up only in long runs. make soak runs it.
func TestStalenessSoak(t *testing.T) {
	if os.Getenv("SLOTCACHE_SOAK") != "1" {
		t.Skip("set SLOTCACHE_SOAK=1 (make soak)")
	}
	rounds := 100
	if n, err := strconv.Atoi(os.Getenv("SLOTCACHE_SOAK_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	stalenessUnderFaults(t, rounds)
}

func stalenessUnderFaults(t *testing.T, rounds int, opts ...Option) {
	faults := []struct {
		name  string
		fault func(srv *redistest.Server, proxy *redistest.Proxy)
		down  bool // Redis is down when the engines start
	}{
		{name: "restart", fault: func(srv *redistest.Server, _ *redistest.Proxy) { srv.Restart() }},
		{name: "client kill pubsub", fault: func(srv *redistest.Server, _ *redistest.Proxy) { srv.KillPubSubClients() }},
		{name: "half-open", fault: func(_ *redistest.Server, proxy *redistest.Proxy) {
			proxy.Partition()
			time.AfterFunc(hsRun/2, proxy.Heal) // still partitioned for several bounds
		}},
		{name: "client pause", fault: func(srv *redistest.Server, _ *redistest.Proxy) {
			c := srv.Client(t)
			require.NoError(t, c.Do(context.Background(), "CLIENT", "PAUSE", "400", "ALL").Err())
		}},
		{name: "down at start", down: true, fault: func(srv *redistest.Server, _ *redistest.Proxy) { srv.Restart() }},
	}
	for round := range rounds * len(faults) {
		f := faults[round%len(faults)]
		name := f.name
		if rounds > 1 {
			name = fmt.Sprintf("%s/%d", f.name, round/len(faults))
		}
		t.Run(name, func(t *testing.T) {
			srv := redistest.Start(t)
			proxy := redistest.NewProxy(t, srv.Addr())
			clients := []redis.UniversalClient{shortClient(t, proxy.Addr())}
			for range hsInstances - 1 {
				clients = append(clients, shortClient(t, srv.Addr()))
			}
			if f.down {
				srv.Kill()
			}
			engines := hsEngines(t, rtChannel(t), clients, hsStaleness, opts...)
			if !f.down {
				for _, e := range engines {
					rtReady(t, e)
				}
			}
			writes, reads := hsHistory(t, engines, func() { f.fault(srv, proxy) })
			require.NotEmpty(t, writes, "no invalidation was published")
			require.NotEmpty(t, reads)
			bad := hsViolations(writes, reads, hsStaleness)
			require.Empty(t, bad, "%d of %d reads violate the bound", len(bad), len(reads))
			if engines[0].filler != nil {
				var shared uint64
				for _, e := range engines {
					shared += e.Stats().FillSharedHits
				}
				require.NotZero(t, shared, "no read came from the shared tier")
			}
		})
	}
}

// TestStalenessBoundSentinelFailover runs the history across a Sentinel
// failover, the engines configured by FromEnv.
func TestStalenessBoundSentinelFailover(t *testing.T) {
	primary, ss := sentinelEnv(t)
	ch := rtChannel(t)
	var engines []*Engine
	for range hsInstances {
		engines = append(engines, envEngine(t, ch, WithHeartbeat(hsHeartbeat), WithMaxStaleness(hsStaleness),
			WithPublishTimeout(100*time.Millisecond)))
	}
	writes, reads := hsHistory(t, engines, func() { ss.Failover(t, primary.Addr()) })
	require.NotEmpty(t, writes)
	bad := hsViolations(writes, reads, hsStaleness)
	require.Empty(t, bad, "%d of %d reads violate the bound", len(bad), len(reads))
	require.NotZero(t, engines[0].sub.Stats().SentinelSwitches)
}

// TestStalenessHistoryCatchesTTLOnly is the control for the test above: the
// same partition without the bound (WithMaxStaleness(0), TTL only) must show
// violations, or the checker proves nothing.
func TestStalenessHistoryCatchesTTLOnly(t *testing.T) {
	srv := redistest.Start(t)
	proxy := redistest.NewProxy(t, srv.Addr())
	clients := []redis.UniversalClient{shortClient(t, proxy.Addr())}
	for range hsInstances - 1 {
		clients = append(clients, shortClient(t, srv.Addr()))
	}
	engines := hsEngines(t, rtChannel(t), clients, 0)
	for _, e := range engines {
		rtReady(t, e)
	}
	writes, reads := hsHistory(t, engines, func() {
		proxy.Partition()
		t.Cleanup(proxy.Heal)
	})
	// A stale read needs a cached value that outlives a write by the bound
	// on the partitioned instance; a loaded machine may not produce one in
	// one run, so the partition goes on for a few more before the control
	// fails.
	for range 4 {
		if len(hsViolations(writes, reads, hsStaleness)) > 0 {
			break
		}
		writes, reads = hsHistory(t, engines, func() {})
	}
	require.NotEmpty(t, hsViolations(writes, reads, hsStaleness), "a partition without the bound served nothing stale")
}

// TestQueuedInvalidationArrivesAfterOutage takes Redis away from the
// writer only: its Invalidate returns promptly with ErrQueued, and the
// reader, which still hears Redis and so keeps its value, drops it once
// the writer's Redis is back.
func TestQueuedInvalidationArrivesAfterOutage(t *testing.T) {
	srv := redistest.Start(t)
	proxy := redistest.NewProxy(t, srv.Addr())
	ch := rtChannel(t)
	writer := rtEngine(t, shortClient(t, proxy.Addr()), ch, WithHeartbeat(50*time.Millisecond), WithMaxStaleness(0))
	// A heartbeat of a second: a reader that misses three 50 ms echoes on
	// a loaded machine resyncs, which would drop its slot for another
	// reason than the invalidation under test.
	reader := rtEngine(t, srv.Client(t), ch, WithHeartbeat(time.Second), WithMaxStaleness(0))
	rtReady(t, writer)
	rtReady(t, reader)
	var l rtLoader
	rtGet(t, reader, "x", &l)

	proxy.Down()
	err := rtWithin(t, "Invalidate", func() error { return writer.Invalidate(context.Background(), "x") })
	require.ErrorIs(t, err, ErrQueued)
	require.Equal(t, uint64(1), writer.Stats().OutboxQueued)
	require.True(t, reader.Cached("x"), "nothing reached the reader while the writer's Redis was away")

	proxy.Up()
	require.Eventually(t, func() bool { return !reader.Cached("x") }, rtWait, rtPoll,
		"the queued invalidation never arrived")
	// The drainer counts its retry, and empties the outbox, once PUBLISH
	// has returned, which may be after the reader dropped the slot.
	require.Eventually(t, func() bool {
		st := writer.Stats()
		return st.OutboxRetried == 1 && st.OutboxSize == 0
	}, rtWait, rtPoll, "retried once from the outbox, which is empty")
}

// TestInvalidateConfirmedReadYourWrites writes and reads in a tight loop
// across three instances: after InvalidateConfirmed returns on one, a Get
// on any other must return the new version, every time. (With a plain
// Invalidate, a read that follows at once may still see the old one for a
// delivery delay; the test logs how often.)
func TestInvalidateConfirmedReadYourWrites(t *testing.T) {
	srv := redistest.Start(t)
	ch := rtChannel(t)
	var engines []*Engine
	for range hsInstances {
		e := rtEngine(t, srv.Client(t), ch)
		rtReady(t, e)
		engines = append(engines, e)
	}
	src := &hsSource{}
	ctx := context.Background()
	stale := map[bool]int{}
	const rounds = 200
	for _, confirmed := range []bool{false, true} {
		for round := range rounds {
			version := src.v[0].Add(1)
			w := engines[round%len(engines)]
			if confirmed {
				require.NoError(t, w.InvalidateConfirmed(ctx, "s0"), "round %d", round)
			} else {
				require.NoError(t, w.Invalidate(ctx, "s0"), "round %d", round)
			}
			for _, r := range engines {
				v, err := r.Get(ctx, "s0", src.load)
				require.NoError(t, err)
				if hsVersion(v) != version {
					stale[confirmed]++
				}
			}
		}
	}
	t.Logf("stale reads right after the write: %d of %d with Invalidate, %d of %d with InvalidateConfirmed",
		stale[false], rounds*hsInstances, stale[true], rounds*hsInstances)
	require.Zero(t, stale[true])
}

// BenchmarkInvalidate compares the cost of an invalidation with and without
// confirmation, between two instances on a real redis-server.
func BenchmarkInvalidate(b *testing.B) {
	srv := redistest.Start(b)
	ch := fmt.Sprintf("slotcache-bench:%d", rtSeq.Add(1))
	var engines []*Engine
	for range 2 {
		e, err := New(WithRedis(srv.Client(b)), WithChannel(ch))
		require.NoError(b, err)
		b.Cleanup(func() { _ = e.Close() })
		require.NoError(b, e.WaitReady(context.Background()))
		engines = append(engines, e)
	}
	ctx := context.Background()
	b.Run("plain", func(b *testing.B) {
		for b.Loop() {
			if err := engines[0].Invalidate(ctx, "x"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("confirmed", func(b *testing.B) {
		for b.Loop() {
			if err := engines[0].InvalidateConfirmed(ctx, "x"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestNeverWaitsOnStoppedRedis stops Redis (SIGSTOP) under a client that
// waits forever (ReadTimeout -1, no ContextTimeoutEnabled): New, Cache,
// Invalidate and Close must return anyway, Redis stopped before New or
// after the engine subscribed.
func TestNeverWaitsOnStoppedRedis(t *testing.T) {
	for _, when := range []string{"before New", "after subscribing"} {
		t.Run(when, func(t *testing.T) {
			srv := redistest.Start(t)
			client := redis.NewClient(&redis.Options{Addr: srv.Addr(), ReadTimeout: -1, WriteTimeout: -1})
			t.Cleanup(func() { _ = client.Close() })
			t.Cleanup(srv.Kill) // runs first: releases every call still blocked on it
			if when == "before New" {
				srv.Stop()
			}
			var e *Engine
			rtWithin(t, "New", func() (err error) {
				e, err = New(WithRedis(client), WithChannel(rtChannel(t)), WithHeartbeat(20*time.Millisecond), WithMaxStaleness(100*time.Millisecond))
				return err
			})
			if when == "after subscribing" {
				rtReady(t, e)
				srv.Stop()
				require.Eventually(t, func() bool { return e.Stats().HeartbeatMisses > 0 }, rtWait, rtPoll)
			}
			var l rtLoader
			rtGet(t, e, "x", &l) // the engine serves locally meanwhile
			rtWithin(t, "Cache", func() error {
				c, err := NewCache[any](e, "named", l.load)
				if err == nil {
					_, err = c.Get(context.Background(), "y")
				}
				return err
			})
			err := rtWithin(t, "Invalidate", func() error { return e.Invalidate(context.Background(), "x") })
			require.ErrorIs(t, err, ErrQueued)
			require.NoError(t, rtWithin(t, "Close", e.Close))
			require.Equal(t, uint64(1), e.Stats().OutboxDropped, "the queued invalidation is counted as dropped at Close")
		})
	}
}

// TestNoJoiningALoadOlderThanTheBound runs a slow load on an engine that
// cannot reach Redis (so no resubscription will ever flush it): a Get that
// starts more than the bound after an invalidation it never heard of must
// not join that load, which read the source before the invalidation; it
// loads again.
func TestNoJoiningALoadOlderThanTheBound(t *testing.T) {
	srv := redistest.Start(t)
	proxy := redistest.NewProxy(t, srv.Addr())
	proxy.Down()
	ch := rtChannel(t)
	const bound = 100 * time.Millisecond
	a := rtEngine(t, shortClient(t, proxy.Addr()), ch, WithHeartbeat(20*time.Millisecond), WithMaxStaleness(bound),
		WithLoadTimeout(time.Minute))
	b := rtEngine(t, srv.Client(t), ch)
	rtReady(t, b)

	var version atomic.Int64
	release := make(chan struct{})
	slow := func(context.Context, string) (any, error) {
		v := version.Load() // read now, answered later
		<-release
		return v, nil
	}
	type result struct {
		v   any
		err error
	}
	get := func() <-chan result {
		r := make(chan result, 1)
		go func() {
			v, err := a.Get(context.Background(), "x", slow)
			r <- result{v, err}
		}()
		return r
	}
	first := get()
	require.Eventually(t, func() bool { return a.Stats().Loads == 1 }, rtWait, rtPoll)

	version.Store(1)
	require.NoError(t, b.Invalidate(context.Background(), "x"))
	invalidated := time.Now()
	for time.Since(invalidated) <= bound { // the bound has to pass, nothing else
		time.Sleep(bound / 4)
	}
	second := get()
	require.Eventually(t, func() bool { return a.Stats().Loads == 2 }, rtWait, rtPoll,
		"the Get joined a load that started before the invalidation, longer ago than the bound")
	close(release)
	require.Equal(t, result{int64(0), nil}, <-first, "the first Get started before the invalidation")
	require.Equal(t, result{int64(1), nil}, <-second)
}

// TestStalenessBoundReachesNamedCaches: a named cache shares its engine's
// subscription and heartbeat (NewCache), so the heartbeat's watermark must
// reach it as it reaches the engine: on a healthy link, entries of both
// outlive the bound (no reload a heartbeat could have spared); once the
// link is partitioned, the watermark stops and an entry of either lives
// at most the bound after its load.
func TestStalenessBoundReachesNamedCaches(t *testing.T) {
	srv := redistest.Start(t)
	proxy := redistest.NewProxy(t, srv.Addr())
	const heartbeat, bound = 50 * time.Millisecond, 250 * time.Millisecond
	e := rtEngine(t, shortClient(t, proxy.Addr()), rtChannel(t), WithHeartbeat(heartbeat), WithMaxStaleness(bound))
	var l rtLoader
	c, err := NewCache[any](e, "named", l.load)
	require.NoError(t, err)
	caches := map[string]*Engine{"engine": e, "named cache": c.e}
	for _, x := range caches {
		rtReady(t, x)
	}

	for name, x := range caches {
		rtGet(t, x, name, &l)
	}
	time.Sleep(3 * bound) // the bound has to pass, nothing else
	for name, x := range caches {
		if st := x.Stats(); st.Subscriptions > 1 || st.HeartbeatMisses > 0 {
			t.Skip("a loaded machine took a slow echo for a dead link, which flushes; nothing to check")
		}
		require.True(t, x.Cached(name), "the %s dropped its entry after the bound on a healthy link: no watermark reached it", name)
	}

	proxy.Partition()
	t.Cleanup(proxy.Heal)
	require.Eventually(t, func() bool { return e.Stats().HeartbeatMisses > 0 }, rtWait, rtPoll)
	for name, x := range caches {
		rtGet(t, x, name, &l) // loaded after the heartbeat miss's flush
		require.Eventually(t, func() bool { return !x.Cached(name) }, rtWait, rtPoll,
			"the %s kept serving an entry longer than the bound while partitioned", name)
	}
}

// TestQueuedInvalidationOutlivesItsNamedCache: a named cache's
// invalidations are queued on its engine's bridge (NewCache shares it), and
// closing the named cache does not lose them: they reach the other
// instances once Redis is back, as the engine's own do, and are dropped
// (counted) only when the engine closes.
func TestQueuedInvalidationOutlivesItsNamedCache(t *testing.T) {
	srv := redistest.Start(t)
	proxy := redistest.NewProxy(t, srv.Addr())
	ch := rtChannel(t)
	writer := rtEngine(t, shortClient(t, proxy.Addr()), ch, WithHeartbeat(50*time.Millisecond), WithMaxStaleness(0))
	// A heartbeat of a second: a reader that misses three 50 ms echoes on
	// a loaded machine resyncs, which would drop its slot for another
	// reason than the invalidation under test.
	reader := rtEngine(t, srv.Client(t), ch, WithHeartbeat(time.Second), WithMaxStaleness(0))
	var l rtLoader
	w, err := NewCache[any](writer, "named", l.load)
	require.NoError(t, err)
	r, err := NewCache[any](reader, "named", l.load)
	require.NoError(t, err)
	for _, x := range []*Engine{w.e, r.e} {
		rtReady(t, x)
	}
	rtGet(t, r.e, "x", &l)

	proxy.Down()
	err = rtWithin(t, "Invalidate", func() error { return w.Invalidate(context.Background(), "x") })
	require.ErrorIs(t, err, ErrQueued)
	require.NoError(t, rtWithin(t, "Close", w.Close))
	require.True(t, r.Cached("x"), "nothing reached the reader while the writer's Redis was away")

	proxy.Up()
	require.Eventually(t, func() bool { return !r.Cached("x") }, rtWait, rtPoll,
		"the invalidation queued by a named cache was lost when it closed")
}
