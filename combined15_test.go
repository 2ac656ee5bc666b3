package slotcache

// Where this session's features meet older ones: the pooled miss request
// (call.go) with cancelled Gets and passivation, the one deadline list
// (actors/deadlines.go) with a loader that ignores its context and
// passivation, the router's caller-run mailbox with Close, and signed fill
// copies with named caches.

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/slotcache/slotcache/internal/redistest"
)

// A pooled call goes back to the pool only once answered: a Get whose ctx
// ended leaves its call out, because its slot may still answer into it.
// Many Gets on many slots, half of them cancelled while in flight, with
// invalidations and passivation keeping misses and pooled actors coming:
// no Get returns another slot's value.
//
// Checked by returning the call to the pool in miss's ctx.Done branch:
// Gets then received other slots' values (and -race reported the reuse).
func TestCombinedCancelledGetsNeverGetAnotherAnswer(t *testing.T) {
	e := newEngine(t, WithPassivateAfter(0))
	load := func(_ context.Context, id string) (any, error) {
		runtime.Gosched() // let the caller's cancellation win now and then
		return id, nil
	}
	const slots, getters = 16, 8
	iterations := 3000
	if testing.Short() {
		iterations = 300
	}
	stopInvalidating := spin(1, func(_, n int) bool {
		_ = e.Invalidate(context.Background(), "s"+strconv.Itoa(n%slots))
		return true
	})
	var cancelled atomic.Int64
	var wg sync.WaitGroup
	for g := range getters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range iterations {
				id := "s" + strconv.Itoa((g*7+i)%slots)
				ctx, cancel := context.WithCancel(context.Background())
				if i%2 == 0 {
					go cancel()
				}
				v, err := e.Get(ctx, id, load)
				cancel()
				switch {
				case errors.Is(err, context.Canceled):
					cancelled.Add(1)
				case err != nil:
					t.Errorf("Get %s: %v", id, err)
					return
				case v != id:
					t.Errorf("Get %s returned %v", id, v)
					return
				}
			}
		}()
	}
	wg.Wait()
	stopInvalidating()
	t.Logf("%d Gets cancelled in flight", cancelled.Load())
}

// A load past WithLoadTimeout whose loader ignores its context, on a slot
// whose actor passivates as soon as it is idle: the waiter gets
// ErrLoadTimeout, the next Get on the slot loads again while the first
// loader still runs, the late result does not replace the new value, the
// actor passivates, and after Close nothing is left running.
//
// Checked by making flight.timedOut only cancel the load (no
// flightTimeout sent): the waiter then never returned.
func TestCombinedLoadTimeoutPassivationRecovers(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	e, err := New(WithLoadTimeout(30*time.Millisecond), WithPassivateAfter(0))
	require.NoError(t, err)
	stubborn := newGate(value("late"))
	r := await(t, getAsync(context.Background(), e, "k", stubborn.load))
	require.ErrorIs(t, r.err, ErrLoadTimeout)
	require.Equal(t, uint64(1), e.Stats().LoadTimeouts)

	v, err := e.Get(context.Background(), "k", identity)
	require.NoError(t, err, "the slot did not recover while its timed-out loader runs")
	require.Equal(t, "k", v)
	stubborn.open()
	require.Eventually(t, func() bool { return e.Stats().Actors == 0 }, wait, time.Millisecond,
		"the slot actor never passivated")
	v, err = e.Get(context.Background(), "k", stubborn.load)
	require.NoError(t, err)
	require.Equal(t, "k", v, "the late result replaced the value loaded after the timeout")
	require.Equal(t, int32(1), stubborn.calls.Load())

	require.NoError(t, e.Close())
	goleak.VerifyNone(t, ignore, goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"))
}

// Close while many goroutines miss on cold slots: the router's queue runs
// in place past its budget and the rest on a worker; one goroutine's load
// holds until Close cancels it, the others stream on. Every Get returns,
// its own value or ErrClosed, and nothing is left running.
//
// Checked by making miss ignore the engine's ctx (no ErrClosed branch):
// Gets whose load Close cancelled then hung; and by dropping the router's
// overflow instead of handing it to a worker: the misses stopped.
func TestCombinedCloseDuringColdMissStorm(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	e, err := New()
	require.NoError(t, err)
	const goroutines, each = 16, 50
	started := make(chan struct{}, goroutines*each)
	load := func(ctx context.Context, id string) (any, error) {
		started <- struct{}{}
		if id[:3] == "g0-" {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return id, nil
	}
	var wg sync.WaitGroup
	var closed, served atomic.Int64
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := fmt.Sprintf("g%d-%d", g, i)
				v, err := e.Get(context.Background(), id, load)
				switch {
				case errors.Is(err, ErrClosed):
					closed.Add(1)
				case err != nil:
					t.Errorf("Get %s: %v", id, err)
				case v != id:
					t.Errorf("Get %s returned %v", id, v)
				default:
					served.Add(1)
				}
			}
		}()
	}
	timeout := time.After(wait)
	for range goroutines * each / 4 { // Close in the middle of the stream
		select {
		case <-started:
		case <-timeout:
			t.Fatal("the cold misses stopped reaching their loaders")
		}
	}
	require.NoError(t, e.Close())
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(wait):
		t.Fatal("a Get did not return after Close")
	}
	require.NotZero(t, closed.Load())
	t.Logf("%d served, %d ErrClosed", served.Load(), closed.Load())
	goleak.VerifyNone(t, ignore, goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"))
}

// Signed fill copies for a named cache: a copy a plain client writes under
// the cache's own shared key is served by a cache that does not sign (the
// threat), never by one whose engine signs; it loads the slot itself and
// counts the copy as unverified, while genuine copies are still shared.
// The engine-level case is TestSigningForgedSharedValueNeverServed.
func TestCombinedSigningFillNamedCache(t *testing.T) {
	for _, sign := range []bool{false, true} {
		t.Run(fmt.Sprintf("signing=%v", sign), func(t *testing.T) {
			srv := redistest.Start(t)
			ch := rtChannel(t)
			ctx := context.Background()
			var loads atomic.Int32
			load := func(_ context.Context, id string) (string, error) {
				loads.Add(1)
				return id + "!", nil
			}
			var caches []*Cache[string]
			for range 2 {
				var opts []Option
				if sign {
					opts = append(opts, WithSigningKey(sgKeyA))
				}
				e := rtEngine(t, srv.Client(t), ch, opts...)
				c := newCache(t, e, "users", load, WithFill(FillPolicy{}))
				require.NoError(t, c.WaitReady(ctx))
				caches = append(caches, c)
			}
			a, b := caches[0], caches[1]
			v, err := a.Get(ctx, "s")
			require.NoError(t, err)
			require.Equal(t, "s!", v)

			raw := srv.Client(t)
			data, _ := ftKeys(t, raw, b.Channel(), "x")
			require.NoError(t, raw.Set(ctx, data, `c"forged"`, time.Hour).Err())

			v, err = b.Get(ctx, "s")
			require.NoError(t, err)
			require.Equal(t, "s!", v, "a genuine copy is shared")
			got, err := b.Get(ctx, "x")
			require.NoError(t, err)
			st := b.Stats()
			if !sign {
				require.Equal(t, "forged", got, "the scenario: without signing, the forged copy is served")
				require.Equal(t, uint64(2), st.FillSharedHits)
				return
			}
			require.Equal(t, "x!", got, "the forged copy was served")
			require.Equal(t, uint64(1), st.FillSharedHits)
			require.Equal(t, uint64(1), st.FillUnverified)
			require.Equal(t, int32(2), loads.Load(), "a loaded s, b loaded x")
		})
	}
}

// Damping with WithFill: a writer engine floods InvalidateAll (each one
// retires the shared tier and publishes "*") while readers on a damped
// engine read 50 slots. No Get returns a value that the damped engine's
// watermark says was invalidated, whether it came from the source or from
// a shared copy; once the flood stops, the last "*" is applied and fill
// still coordinates: the writer reads what the damped engine loaded as
// shared hits, without loading.
//
// Checked by letting the damper pass a heartbeat's watermark on while it
// holds invalidations (bridge/damp.go, damper.watermark): readers then got
// values older than the watermark said ("version 435 after the watermark
// passed version 503").
func TestCombinedDampingWithFill(t *testing.T) {
	srv := redistest.Start(t)
	ch := rtChannel(t)
	// A queued publish would reach the damped engine after the writer
	// logged it; the test is about damping, not a slow Redis (2 cores, -race).
	writer := rtEngine(t, srv.Client(t), ch, WithFill(FillPolicy{}), WithPublishTimeout(rtWait))
	damped := rtEngine(t, srv.Client(t), ch, WithFill(FillPolicy{}),
		WithHeartbeat(100*time.Millisecond), WithMaxStaleness(2*time.Second),
		WithInvalidationDamping(time.Second))
	rtReady(t, writer)
	rtReady(t, damped)
	src := &stSource{loads: map[string]int{}}
	const slots = 50
	id := func(n int) string { return "s" + strconv.Itoa(n%slots) }
	for i := range slots {
		_, err := damped.Get(context.Background(), id(i), src.load)
		require.NoError(t, err)
	}

	messages := 1000
	if testing.Short() {
		messages = 200
	}
	var flood stFlood
	invalidateAll := func() int64 {
		v := src.version.Add(1)
		require.NoError(t, writer.InvalidateAll(context.Background()))
		at := damped.env.Clock.At(time.Now())
		flood.mu.Lock()
		flood.log = append(flood.log, stPublished{at, v})
		flood.mu.Unlock()
		return v
	}
	stopReading := stReaders(t, damped, src, &flood, id, func(string) bool { return true })
	for range messages {
		invalidateAll()
	}
	require.Empty(t, stopReading(), "a value served after the watermark passed its invalidation")
	require.NotZero(t, damped.Stats().DampedInvalidations, "the scenario: the flood was damped")

	last := invalidateAll()
	after := damped.env.Clock.At(time.Now())
	require.Eventually(t, func() bool { return damped.env.LastWatermark() > after }, rtWait, rtPoll)
	before := writer.Stats()
	for i := range slots {
		v, err := damped.Get(context.Background(), id(i), src.load)
		require.NoError(t, err)
		require.GreaterOrEqual(t, cbVersion(v), last, "%s: the last invalidation was not applied", id(i))
	}
	total := func() (n int) {
		src.mu.Lock()
		defer src.mu.Unlock()
		for _, c := range src.loads {
			n += c
		}
		return n
	}
	n := total()
	for i := range slots {
		v, err := writer.Get(context.Background(), id(i), src.load)
		require.NoError(t, err)
		require.GreaterOrEqual(t, cbVersion(v), last, "%s: the writer read an old shared copy", id(i))
	}
	require.Equal(t, n, total(), "the writer loaded instead of reading the shared copies")
	require.Equal(t, before.FillSharedHits+slots, writer.Stats().FillSharedHits)
}

// cbVersion is an stSource version as loaded (int64) or read from a shared
// copy, which an engine without a codec decodes as JSON (float64).
func cbVersion(v any) int64 {
	if f, ok := v.(float64); ok {
		return int64(f)
	}
	return v.(int64)
}
