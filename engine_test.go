package slotcache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// wait is how long tests await a condition before failing; conditions
// normally hold within milliseconds.
const wait = 10 * time.Second

func newEngine(t *testing.T, opts ...Option) *Engine {
	t.Helper()
	e, err := New(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// gate is a loader whose calls block until released, so a test can hold a
// load in flight while it does something else.
type gate struct {
	calls   atomic.Int32
	entered chan int32 // receives the call number when a call starts
	release chan struct{}
	value   func(call int32) (any, error)
	sawDone atomic.Bool // a call saw its ctx end
}

func newGate(value func(call int32) (any, error)) *gate {
	return &gate{entered: make(chan int32, 1024), release: make(chan struct{}, 1024), value: value}
}

func (g *gate) load(ctx context.Context, _ string) (any, error) {
	n := g.calls.Add(1)
	g.entered <- n
	select {
	case <-g.release:
	case <-ctx.Done():
		g.sawDone.Store(true)
		<-g.release
	}
	return g.value(n)
}

// open lets one blocked call return.
func (g *gate) open() { g.release <- struct{}{} }

// awaitCall waits until call number n has started.
func (g *gate) awaitCall(t *testing.T, n int32) {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case got := <-g.entered:
			if got == n {
				return
			}
		case <-timeout:
			t.Fatalf("loader call %d never started", n)
		}
	}
}

func value(v any) func(int32) (any, error) {
	return func(int32) (any, error) { return v, nil }
}

func constLoader(calls *atomic.Int32, v any) Loader {
	return func(context.Context, string) (any, error) {
		calls.Add(1)
		return v, nil
	}
}

// awaitWaiters waits until n misses in total have reached their slot and
// started or joined a load.
func awaitWaiters(t *testing.T, e *Engine, n uint64) {
	t.Helper()
	require.Eventually(t, func() bool {
		s := e.Stats()
		return s.Loads+s.Coalesced == n
	}, wait, time.Millisecond)
}

// getAsync runs Get in a goroutine and returns a channel with its outcome.
func getAsync(ctx context.Context, e *Engine, id string, load Loader) <-chan result {
	ch := make(chan result, 1)
	go func() {
		v, err := e.Get(ctx, id, load)
		ch <- result{v, err}
	}()
	return ch
}

type result struct {
	v   any
	err error
}

func await(t *testing.T, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(wait):
		t.Fatal("Get did not return")
		return result{}
	}
}

// Behaviour 1: concurrent Gets on a cold slot cause exactly one loader call.
func TestColdStampedeSharesOneLoad(t *testing.T) {
	e := newEngine(t)
	g := newGate(func(n int32) (any, error) { return fmt.Sprintf("value-%d", n), nil })
	const callers = 1000
	results := make([]<-chan result, callers)
	for i := range results {
		results[i] = getAsync(context.Background(), e, "compat:deepseek", g.load)
	}
	g.awaitCall(t, 1)
	awaitWaiters(t, e, callers)
	g.open()
	for _, ch := range results {
		r := await(t, ch)
		require.NoError(t, r.err)
		require.Equal(t, "value-1", r.v)
	}
	assert.EqualValues(t, 1, g.calls.Load())
	assert.EqualValues(t, 1, e.Stats().Loads)
	assert.EqualValues(t, callers-1, e.Stats().Coalesced)
	assert.True(t, e.Cached("compat:deepseek"))
}

// Behaviour 2: a fresh hit sends no message, takes no lock, allocates nothing.
// Any message or reply channel would allocate, so zero allocations proves it.
func TestHitAllocatesNothing(t *testing.T) {
	e := newEngine(t)
	var calls atomic.Int32
	load := constLoader(&calls, "v")
	ctx := context.Background()
	_, err := e.Get(ctx, "k", load)
	require.NoError(t, err)
	misses := e.Stats().Misses

	allocs := testing.AllocsPerRun(1000, func() {
		v, err := e.Get(ctx, "k", load)
		if err != nil || v != "v" {
			panic("not a hit")
		}
	})
	assert.Zero(t, allocs, "allocations per hit")
	typedAllocs := testing.AllocsPerRun(1000, func() {
		if v, _ := GetAs(ctx, e, "k", func(context.Context, string) (string, error) { return "", nil }); v != "v" {
			panic("not a hit")
		}
	})
	assert.Zero(t, typedAllocs, "allocations per GetAs hit")
	assert.Equal(t, misses, e.Stats().Misses, "hits must not reach the slot actor")
	assert.EqualValues(t, 1, calls.Load())
	assert.GreaterOrEqual(t, e.Stats().Hits, uint64(2000))
}

// Behaviour 3: nil is cached like any value.
func TestNilValueIsCached(t *testing.T) {
	e := newEngine(t)
	var calls atomic.Int32
	load := constLoader(&calls, nil)
	for range 3 {
		v, err := e.Get(context.Background(), "deleted", load)
		require.NoError(t, err)
		require.Nil(t, v)
	}
	assert.EqualValues(t, 1, calls.Load())
	assert.True(t, e.Cached("deleted"))
}

// Behaviour 3: an error reaches every waiter of the load, is counted, and
// is not cached.
func TestLoadErrorReachesEveryWaiterAndIsNotCached(t *testing.T) {
	e := newEngine(t)
	boom := errors.New("database down")
	g := newGate(func(n int32) (any, error) {
		if n == 1 {
			return nil, boom
		}
		return "recovered", nil
	})
	var results []<-chan result
	for range 50 {
		results = append(results, getAsync(context.Background(), e, "s", g.load))
	}
	g.awaitCall(t, 1)
	awaitWaiters(t, e, 50)
	g.open()
	for _, ch := range results {
		require.ErrorIs(t, await(t, ch).err, boom)
	}
	assert.EqualValues(t, 1, e.Stats().LoadErrors)
	assert.False(t, e.Cached("s"))

	next := getAsync(context.Background(), e, "s", g.load)
	g.awaitCall(t, 2)
	g.open()
	r := await(t, next)
	require.NoError(t, r.err)
	assert.Equal(t, "recovered", r.v)
	assert.EqualValues(t, 2, g.calls.Load())
}

// Behaviour 4: an entry is fresh until its deadline and a miss after it.
func TestTTLExpiry(t *testing.T) {
	e := newEngine(t, WithTTL(time.Hour))
	var calls atomic.Int32
	load := constLoader(&calls, "v")
	_, err := e.Get(context.Background(), "long", load)
	require.NoError(t, err)
	assert.True(t, e.Cached("long"))

	require.NoError(t, e.SetTTL(20*time.Millisecond))
	assert.Equal(t, 20*time.Millisecond, e.TTL())
	_, err = e.Get(context.Background(), "short", load)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return !e.Cached("short") }, wait, time.Millisecond)
	_, err = e.Get(context.Background(), "short", load)
	require.NoError(t, err)
	assert.EqualValues(t, 3, calls.Load(), "an expired entry must be loaded again")
	assert.True(t, e.Cached("long"), "SetTTL must not shorten entries already cached")
	require.Error(t, e.SetTTL(0))
}

// Behaviour 5: an invalidation during a load stops its result from being
// cached, and a Get after the invalidation does not get the old result.
func TestInvalidateOvertakesLoadInFlight(t *testing.T) {
	for _, all := range []bool{false, true} {
		t.Run(fmt.Sprintf("all=%v", all), func(t *testing.T) {
			e := newEngine(t)
			g := newGate(func(n int32) (any, error) { return fmt.Sprintf("v%d", n), nil })
			first := getAsync(context.Background(), e, "s", g.load)
			g.awaitCall(t, 1)

			if all {
				require.NoError(t, e.InvalidateAll(context.Background()))
			} else {
				require.NoError(t, e.Invalidate(context.Background(), "s"))
			}
			// Asked after the invalidation: must not join the old load.
			second := getAsync(context.Background(), e, "s", g.load)
			g.awaitCall(t, 2)

			g.open() // one of the two loads returns
			g.open()
			assert.Equal(t, "v1", await(t, first).v, "a waiter from before the invalidation gets its load's value")
			assert.Equal(t, "v2", await(t, second).v, "a Get after the invalidation gets a fresh load")

			v, err := e.Get(context.Background(), "s", g.load)
			require.NoError(t, err)
			assert.Equal(t, "v2", v, "the overtaken load must not be cached")
			assert.EqualValues(t, 2, g.calls.Load())
		})
	}
}

// Behaviour 5: the overtaken load alone, with nobody asking after the
// invalidation: the next Get loads again.
func TestInvalidatedLoadIsNotCached(t *testing.T) {
	e := newEngine(t)
	g := newGate(func(n int32) (any, error) { return n, nil })
	first := getAsync(context.Background(), e, "s", g.load)
	g.awaitCall(t, 1)
	require.NoError(t, e.Invalidate(context.Background(), "s"))
	g.open()
	require.NoError(t, await(t, first).err)
	assert.False(t, e.Cached("s"))

	next := getAsync(context.Background(), e, "s", g.load)
	g.awaitCall(t, 2)
	g.open()
	assert.EqualValues(t, 2, await(t, next).v)
}

// Invalidating a cached slot makes the next Get load again, at once.
func TestInvalidateDropsCachedEntry(t *testing.T) {
	e := newEngine(t)
	var calls atomic.Int32
	load := constLoader(&calls, "v")
	_, _ = e.Get(context.Background(), "a", load)
	_, _ = e.Get(context.Background(), "b", load)
	require.NoError(t, e.Invalidate(context.Background(), "a"))
	assert.False(t, e.Cached("a"), "readers must miss before the slot processed anything")
	assert.True(t, e.Cached("b"))
	require.NoError(t, e.InvalidateAll(context.Background()))
	assert.False(t, e.Cached("b"))
	require.NoError(t, e.Invalidate(context.Background(), "never-seen"))
	_, _ = e.Get(context.Background(), "a", load)
	assert.EqualValues(t, 3, calls.Load())
	assert.EqualValues(t, 3, e.Stats().Invalidations)
}

// Behaviour 6: a panicking loader fails every waiter, the slot actor is
// restarted by its supervisor, and the slot keeps working, however often
// it happens.
func TestLoaderPanicIsContained(t *testing.T) {
	e := newEngine(t)
	g := newGate(func(n int32) (any, error) {
		if n <= 12 {
			panic(fmt.Sprintf("bug %d", n))
		}
		return "ok", nil
	})
	for n := int32(1); n <= 12; n++ {
		a := getAsync(context.Background(), e, "p", g.load)
		b := getAsync(context.Background(), e, "p", g.load)
		g.awaitCall(t, n)
		awaitWaiters(t, e, uint64(2*n))
		g.open()
		for _, ch := range []<-chan result{a, b} {
			err := await(t, ch).err
			require.ErrorIs(t, err, ErrLoaderPanic)
			require.Contains(t, err.Error(), fmt.Sprintf("bug %d", n))
		}
	}
	require.Eventually(t, func() bool { return e.Stats().SlotRestarts == 12 }, wait, time.Millisecond)

	after := getAsync(context.Background(), e, "p", g.load)
	g.awaitCall(t, 13)
	g.open()
	r := await(t, after)
	require.NoError(t, r.err)
	assert.Equal(t, "ok", r.v)
	assert.True(t, e.Cached("p"))
	assert.EqualValues(t, 12, e.Stats().LoaderPanics)
	assert.EqualValues(t, 12, e.Stats().LoadErrors)
}

// Behaviour 6: a slot restarted by a panic keeps its other waiters: a load
// started before an invalidation is still running when the new one panics.
func TestPanicRequeuesOtherWaiters(t *testing.T) {
	e := newEngine(t)
	g := newGate(func(n int32) (any, error) {
		if n == 2 {
			panic("second load")
		}
		return fmt.Sprintf("v%d", n), nil
	})
	old := getAsync(context.Background(), e, "s", g.load) // load 1
	g.awaitCall(t, 1)
	require.NoError(t, e.Invalidate(context.Background(), "s"))
	panicking := getAsync(context.Background(), e, "s", g.load) // load 2
	g.awaitCall(t, 2)
	// Load 1 or 2 returns first. If load 2 panics while load 1 is in flight,
	// load 1's waiter is handed to the restarted slot, which starts load 3.
	g.open()
	g.open()
	g.open()
	r := await(t, panicking)
	require.ErrorIs(t, r.err, ErrLoaderPanic)
	r = await(t, old)
	if r.err == nil {
		assert.Contains(t, []any{"v1", "v3"}, r.v)
	} else {
		t.Fatalf("waiter of the other load failed: %v", r.err)
	}
}

// Behaviour 7: a caller whose ctx ends gets ctx.Err() while the shared load
// goes on for the others and is cached.
func TestCallerContextBoundsOnlyThatCaller(t *testing.T) {
	e := newEngine(t)
	g := newGate(value("v"))
	ctx, cancel := context.WithCancel(context.Background())
	impatient := getAsync(ctx, e, "s", g.load)
	g.awaitCall(t, 1)
	patient := getAsync(context.Background(), e, "s", g.load)
	awaitWaiters(t, e, 2)
	cancel()
	require.ErrorIs(t, await(t, impatient).err, context.Canceled)

	g.open()
	r := await(t, patient)
	require.NoError(t, r.err)
	assert.Equal(t, "v", r.v)
	assert.True(t, e.Cached("s"))
	assert.False(t, g.sawDone.Load(), "the loader's context must not end with a caller's")
	assert.EqualValues(t, 1, g.calls.Load())

	done, cancelDone := context.WithCancel(context.Background())
	cancelDone()
	_, err := e.Get(done, "other", g.load)
	require.ErrorIs(t, err, context.Canceled)
}

// Behaviour 7: loads are bounded by WithLoadTimeout even if the loader
// ignores its context; the loader's context is cancelled.
func TestLoadTimeout(t *testing.T) {
	e := newEngine(t, WithLoadTimeout(30*time.Millisecond))
	g := newGate(value("late"))
	r := await(t, getAsync(context.Background(), e, "slow", g.load))
	require.ErrorIs(t, r.err, ErrLoadTimeout)
	require.ErrorIs(t, r.err, context.DeadlineExceeded)
	require.Eventually(t, g.sawDone.Load, wait, time.Millisecond)
	assert.EqualValues(t, 1, e.Stats().LoadTimeouts)
	g.open() // the late result is ignored
	assert.False(t, e.Cached("slow"))

	next := getAsync(context.Background(), e, "slow", g.load)
	g.awaitCall(t, 2)
	g.open()
	require.NoError(t, await(t, next).err)
}

// Behaviour 11: Close stops every actor, timer and goroutine it started;
// waiters and later calls get ErrClosed.
func TestCloseLeavesNothingRunning(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	e, err := New(WithTTL(time.Hour))
	require.NoError(t, err)
	var calls atomic.Int32
	for i := range 100 {
		_, err := e.Get(context.Background(), fmt.Sprint("slot-", i), constLoader(&calls, i))
		require.NoError(t, err)
	}
	blocked := getAsync(context.Background(), e, "blocked", func(ctx context.Context, _ string) (any, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	require.Eventually(t, func() bool { return e.Stats().Loads == 101 }, wait, time.Millisecond)

	require.NoError(t, e.Close())
	require.ErrorIs(t, await(t, blocked).err, ErrClosed)
	_, err = e.Get(context.Background(), "slot-1", constLoader(&calls, 0))
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, e.Invalidate(context.Background(), "slot-1"), ErrClosed)
	require.ErrorIs(t, e.InvalidateAll(context.Background()), ErrClosed)
	assert.False(t, e.Cached("slot-1"))
	require.NoError(t, e.Close(), "a second Close is harmless")
}

func TestNewRejectsInvalidOptions(t *testing.T) {
	cases := []struct {
		opt  Option
		name string
	}{
		{WithTTL(0), "WithTTL"},
		{WithTTL(-time.Second), "WithTTL"},
		{WithLoadTimeout(0), "WithLoadTimeout"},
		{WithPublishTimeout(-1), "WithPublishTimeout"},
		{WithHeartbeat(-time.Second), "WithHeartbeat"},
		{WithMaxMessageBytes(10), "WithMaxMessageBytes"},
		{WithChannel(""), "WithChannel"},
		{WithOrigin(""), "WithOrigin"},
		{WithLogger(nil), "WithLogger"},
		{WithRedis(nil), "WithRedis"},
	}
	for _, c := range cases {
		e, err := New(c.opt)
		require.Error(t, err, c.name)
		assert.Nil(t, e)
		assert.Contains(t, err.Error(), c.name)
	}
	_, err := New(WithTTL(0), WithChannel(""))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "WithTTL", "every invalid option is named")
	assert.Contains(t, err.Error(), "WithChannel", "every invalid option is named")
}

func TestFromEnv(t *testing.T) {
	t.Setenv("REDIS_URL", "")
	t.Setenv("SLOTCACHE_TTL_MS", "1500")
	e := newEngine(t, FromEnv())
	assert.Equal(t, 1500*time.Millisecond, e.TTL())

	e = newEngine(t, FromEnv(), WithTTL(time.Second))
	assert.Equal(t, time.Second, e.TTL(), "a later option overrides the environment")

	for _, bad := range []string{"abc", "0", "-5"} {
		t.Setenv("SLOTCACHE_TTL_MS", bad)
		_, err := New(FromEnv())
		require.Error(t, err)
		assert.Contains(t, err.Error(), "SLOTCACHE_TTL_MS")
	}
	t.Setenv("SLOTCACHE_TTL_MS", "")
	t.Setenv("REDIS_URL", "mysql://nope")
	_, err := New(FromEnv())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "REDIS_URL")
}

func TestDefaults(t *testing.T) {
	e := newEngine(t)
	assert.Equal(t, DefaultTTL, e.TTL())
	assert.Equal(t, DefaultChannel, e.Channel())
	assert.Len(t, e.Origin(), 32, "128 random bits, hex")
	assert.NotEqual(t, e.Origin(), newEngine(t).Origin())
	require.NoError(t, e.WaitReady(context.Background()), "no Redis: ready at once")
}

func TestGetAs(t *testing.T) {
	e := newEngine(t)
	type config struct{ Model string }
	load := func(_ context.Context, id string) (*config, error) { return &config{Model: id}, nil }
	c, err := GetAs(context.Background(), e, "compat:deepseek", load)
	require.NoError(t, err)
	assert.Equal(t, "compat:deepseek", c.Model)
	again, err := GetAs(context.Background(), e, "compat:deepseek", load)
	require.NoError(t, err)
	assert.Same(t, c, again)

	_, err = GetAs(context.Background(), e, "compat:deepseek", func(context.Context, string) (int, error) { return 1, nil })
	require.Error(t, err, "a value of another type is an error")

	none, err := GetAs(context.Background(), e, "gone", func(context.Context, string) (*config, error) { return nil, nil })
	require.NoError(t, err)
	assert.Nil(t, none)

	_, err = GetAs[int](context.Background(), e, "x", nil)
	require.Error(t, err)
	_, err = e.Get(context.Background(), "x", nil)
	require.Error(t, err)
}

func TestResetClearsCacheAndStats(t *testing.T) {
	e := newEngine(t)
	var calls atomic.Int32
	_, _ = e.Get(context.Background(), "a", constLoader(&calls, 1))
	_, _ = e.Get(context.Background(), "a", constLoader(&calls, 1))
	require.NotZero(t, e.Stats().Hits)
	e.Reset()
	st := e.Stats()
	st.Slots = 0  // state, not a counter: the flushed entry's memory is reclaimed later
	st.Actors = 0 // a gauge: the slot's actor passivates later
	assert.Equal(t, Stats{}, st)
	assert.False(t, e.Cached("a"))
	_, _ = e.Get(context.Background(), "a", constLoader(&calls, 1))
	assert.EqualValues(t, 2, calls.Load())
}

// A loader panic is logged as an error to the caller's logger, while the
// actor system's Info chatter is not.
func TestLoggerReceivesPanicsButNotChatter(t *testing.T) {
	var buf syncBuffer
	e := newEngine(t, WithLogger(newTextLogger(&buf)))
	_, err := e.Get(context.Background(), "p", func(context.Context, string) (any, error) { panic("kaboom") })
	require.ErrorIs(t, err, ErrLoaderPanic)
	require.Eventually(t, func() bool { return e.Stats().SlotRestarts == 1 }, wait, time.Millisecond)
	assert.Contains(t, buf.String(), "level=ERROR")
	assert.Contains(t, buf.String(), "kaboom", "a loader panic reaches the caller's logger")
	assert.NotContains(t, buf.String(), "actor system started", "Info chatter is filtered")
}

type syncBuffer struct {
	mu sync.Mutex
	sb strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sb.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sb.String()
}

// Invalidating a slot whose actor has passivated frees its entry without
// starting an actor: without a behaviour the invalidating caller frees it;
// with one, the router, the slot's owner meanwhile, frees it and runs
// OnInvalidate, once.
func TestInvalidateWithoutActorStartsNone(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    *onInvalidateCounter // nil: no behaviour
	}{{"no behaviour", nil}, {"behaviour", &onInvalidateCounter{}}} {
		t.Run(tc.name, func(t *testing.T) {
			opts := []Option{WithPassivateAfter(time.Millisecond)}
			if tc.b != nil {
				opts = append(opts, WithBehaviour(tc.b))
			}
			e := newEngine(t, opts...)
			var calls atomic.Int32
			_, err := e.Get(context.Background(), "s", constLoader(&calls, 1))
			require.NoError(t, err)
			require.Eventually(t, func() bool { return e.Stats().Actors == 0 }, wait, time.Millisecond, "the actor never passivated")
			passivations := e.Stats().Passivations

			require.NoError(t, e.Invalidate(context.Background(), "s"))
			require.Eventually(t, func() bool { return e.Stats().EvictedInvalidated == 1 }, wait, time.Millisecond, "the entry was never freed")
			st := e.Stats()
			assert.Zero(t, st.Actors, "an actor was bound to free an entry")
			assert.Equal(t, passivations, st.Passivations, "an actor was started and passivated again")
			if tc.b != nil {
				assert.EqualValues(t, 1, tc.b.n.Load(), "OnInvalidate runs once for the invalidated slot")
			}
		})
	}
}

// onInvalidateCounter counts OnInvalidate calls and never reloads.
type onInvalidateCounter struct {
	Base
	n atomic.Int32
}

func (c *onInvalidateCounter) OnInvalidate(string) bool {
	c.n.Add(1)
	return false
}

// Without behaviours, a flush does not walk the slots: the epoch hides
// every entry at once, and the sweep frees them.
func TestInvalidateAllWithoutBehaviourFreesBySweep(t *testing.T) {
	e := newEngine(t, WithPassivateAfter(0))
	for i := range 1000 {
		mustGet(t, e, fmt.Sprint("s", i), identity)
	}
	require.EqualValues(t, 1000, e.Stats().Slots)
	require.NoError(t, e.InvalidateAll(context.Background()))
	for i := range 1000 {
		require.False(t, e.Cached(fmt.Sprint("s", i)), "an entry is served after InvalidateAll")
	}
	require.Eventually(t, func() bool { return e.Stats().Slots == 0 }, wait, time.Millisecond, "the sweep never freed the flushed entries")
	assert.EqualValues(t, 1000, e.Stats().EvictedInvalidated)
}
