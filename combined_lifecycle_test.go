package slotcache

// Where the slot lifecycle (pooled actors rebound to other slots, load
// timeouts, Close) meets loaders that misbehave and behaviours that reload:
// a timed-out loader that answers after its actor serves another slot, and
// a reload on invalidation that Close catches in flight.

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// clDeadLetterThrottle is protoactor's dead-letter throttle goroutine,
// which outlives an actor system by design (as in combined15_test.go).
var clDeadLetterThrottle = goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1")

// clReloader reloads every invalidated slot at once.
type clReloader struct{ Base }

func (clReloader) OnInvalidate(string) bool { return true }

// clBlocking is a loader whose first call per slot returns at once and
// whose later calls (the reloads) run until their context ends, as a
// polite loader does. It counts the calls still running.
type clBlocking struct {
	mu      sync.Mutex
	calls   map[string]int
	entered chan string
	running atomic.Int32
}

func newCLBlocking() *clBlocking {
	return &clBlocking{calls: map[string]int{}, entered: make(chan string, 1<<16)}
}

func (l *clBlocking) load(ctx context.Context, id string) (any, error) {
	l.mu.Lock()
	l.calls[id]++
	n := l.calls[id]
	l.mu.Unlock()
	if n == 1 {
		return id + "#1", nil
	}
	l.running.Add(1)
	defer l.running.Add(-1)
	l.entered <- id
	<-ctx.Done()
	return nil, ctx.Err()
}

// A behaviour that reloads on invalidation, a slot invalidated while its
// reload is in flight (a second reload overtakes the first, and a Get
// waits on it), then Close: Close returns without error (every loader
// honoured its cancelled context), the waiting Get gets ErrClosed, no
// loader is left running and no goroutine leaks. With PassivateAfter(0)
// the first invalidation reaches a slot without an actor, so the router
// binds one to reload.
func TestCombinedReloadOnInvalidateInFlightThenClose(t *testing.T) {
	for _, passivate := range []time.Duration{0, time.Hour} {
		t.Run(fmt.Sprintf("passivate=%v", passivate), func(t *testing.T) {
			ignore := goleak.IgnoreCurrent()
			e, err := New(WithBehaviour(clReloader{}), WithPassivateAfter(passivate), WithLoadTimeout(time.Minute))
			require.NoError(t, err)
			t.Cleanup(func() { _ = e.Close() }) // if the test fails before its own Close
			l := newCLBlocking()
			ctx := context.Background()
			v, err := e.Get(ctx, "k", l.load)
			require.NoError(t, err)
			require.Equal(t, "k#1", v)
			if passivate == 0 {
				require.Eventually(t, func() bool { return e.Stats().Actors == 0 }, wait, time.Millisecond, "the slot never passivated")
			}

			require.NoError(t, e.Invalidate(ctx, "k"))
			clAwaitEntered(t, l, 1)
			waiter := getAsync(ctx, e, "k", l.load)
			awaitWaiters(t, e, 3) // the first load, the reload, and the Get that joined it
			require.NoError(t, e.Invalidate(ctx, "k"))
			clAwaitEntered(t, l, 1)
			require.Equal(t, int32(2), l.running.Load(), "the scenario: two reloads in flight")

			closed := make(chan error, 1)
			go func() { closed <- e.Close() }()
			select {
			case err := <-closed:
				require.NoError(t, err, "Close with polite loaders in flight")
			case <-time.After(wait):
				t.Fatal("Close hung with a reload in flight")
			}
			require.ErrorIs(t, await(t, waiter).err, ErrClosed)
			require.Zero(t, l.running.Load(), "a reload outlived Close")
			goleak.VerifyNone(t, ignore, clDeadLetterThrottle)
		})
	}
}

// The same, racing: many warm slots without actors, every one reloading
// on invalidation, and Close while InvalidateAll's walk (several steps of
// the router) binds actors to reload them. Whatever Close catches, it
// returns without error and leaves no loader and no goroutine behind.
func TestCombinedReloadOnInvalidateAllRacingClose(t *testing.T) {
	rounds := 20
	if testing.Short() {
		rounds = 5
	}
	const slots = 3000 // > walkBuckets: the walk takes several router messages
	for round := range rounds {
		ignore := goleak.IgnoreCurrent()
		e, err := New(WithBehaviour(clReloader{}), WithPassivateAfter(0), WithLoadTimeout(time.Minute))
		require.NoError(t, err)
		t.Cleanup(func() { _ = e.Close() }) // if the test fails before its own Close
		l := newCLBlocking()
		ctx := context.Background()
		for i := range slots {
			_, err := e.Get(ctx, "s"+strconv.Itoa(i), l.load)
			require.NoError(t, err)
		}
		require.Eventually(t, func() bool { return e.Stats().Actors == 0 }, wait, time.Millisecond, "the slots never passivated")

		go func() {
			// ErrClosed if Close came first; a flush that happened is all
			// the test needs.
			if err := e.InvalidateAll(ctx); err != nil && !errors.Is(err, ErrClosed) {
				t.Errorf("InvalidateAll: %v", err)
			}
		}()
		if round%2 == 1 {
			clAwaitEntered(t, l, 1+round%20) // Close once the reloads have begun
		}
		closed := make(chan error, 1)
		go func() { closed <- e.Close() }()
		select {
		case err := <-closed:
			require.NoError(t, err, "round %d: Close with polite loaders in flight", round)
		case <-time.After(wait):
			t.Fatalf("round %d: Close hung during the reloads", round)
		}
		require.Zero(t, l.running.Load(), "round %d: a reload outlived Close", round)
		l.mu.Lock()
		reloads := 0
		for _, n := range l.calls {
			reloads += n - 1
		}
		l.mu.Unlock()
		t.Logf("round %d: Close caught %d of %d reloads started", round, reloads, slots)
		goleak.VerifyNone(t, ignore, clDeadLetterThrottle)
	}
}

// clAwaitEntered waits until n more reloads of l have started.
func clAwaitEntered(t *testing.T, l *clBlocking, n int) {
	t.Helper()
	timeout := time.After(wait)
	for range n {
		select {
		case <-l.entered:
		case <-timeout:
			t.Fatal("a reload never started")
		}
	}
}

// clRunningLoaders counts the goroutines running a load (actors.runLoader,
// the loader itself or the report of its outcome to its slot's actor).
func clRunningLoaders() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "slotcache/actors.runLoader(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// clPID is the actor bound to slot id right now, "" if none.
func clPID(e *Engine, id string) string {
	h, ok := e.dir.Load(id)
	if !ok {
		return ""
	}
	if b := h.Binding(); b != nil && !b.Released() {
		return b.PID.String()
	}
	return ""
}

// A load of slot A times out while its loader, ignoring its context, runs
// on; A is reloaded, its actor passivates and, pooled, is bound to another
// slot (or to A again) whose own load is in flight with waiters. Then the
// old loader ends late: it panics, returns a value or returns an error.
// The late outcome reaches the actor that now serves the other load. It
// must change nothing: the other load is not restarted, answered or
// replaced (its loader runs once, its waiters get its value), no actor
// restarts, and A keeps the value of its reload.
func TestCombinedLateLoaderAfterRebind(t *testing.T) {
	type late struct {
		name string
		end  func() (any, error)
	}
	lates := []late{
		{"panic", func() (any, error) { panic("late loader bug") }},
		{"value", func() (any, error) { return "A-late", nil }},
		{"error", func() (any, error) { return nil, errors.New("late failure") }},
	}
	for _, lt := range lates {
		for _, target := range []string{"B", "A"} {
			t.Run(lt.name+"/rebound-to-"+target, func(t *testing.T) {
				clLateLoaderAfterRebind(t, lt.end, target)
			})
		}
	}
}

func clLateLoaderAfterRebind(t *testing.T, lateEnd func() (any, error), target string) {
	ignore := goleak.IgnoreCurrent()
	// The timeout ends A's first load, but bounds the target's load too,
	// which the test holds open through several steps: a second leaves
	// those steps ample time on a loaded machine (20 ms did not).
	e, err := New(WithLoadTimeout(time.Second), WithPassivateAfter(0))
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	ctx := context.Background()
	idle := func() bool { return e.Stats().Actors == 0 }

	// A's load times out; its loader runs on.
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	stubborn := func(context.Context, string) (any, error) {
		entered <- struct{}{}
		<-release // ignores its context
		return lateEnd()
	}
	first := getAsync(ctx, e, "A", stubborn)
	select {
	case <-entered:
	case <-time.After(wait):
		t.Fatal("A's loader never started")
	}
	pid := clPID(e, "A")
	require.NotEmpty(t, pid, "A has no actor while it loads")
	require.ErrorIs(t, await(t, first).err, ErrLoadTimeout)
	require.Eventually(t, idle, wait, time.Millisecond, "A's actor never passivated")

	// A is reloaded, by the same pooled actor, which passivates again.
	v, err := e.Get(ctx, "A", func(context.Context, string) (any, error) { return "A-new", nil })
	require.NoError(t, err)
	require.Equal(t, "A-new", v)
	require.Eventually(t, idle, wait, time.Millisecond, "A's actor never passivated after the reload")

	// The pooled actor is bound to target, whose own load is in flight
	// with waiters.
	if target == "A" {
		require.NoError(t, e.Invalidate(ctx, "A"))
	}
	g := newGate(value(target + "-own"))
	t.Cleanup(func() { // a failed test must not leave the loader blocked
		for range 8 {
			g.open()
		}
	})
	misses := e.Stats().Loads + e.Stats().Coalesced
	waiters := []<-chan result{getAsync(ctx, e, target, g.load)}
	g.awaitCall(t, 1)
	// (The router names the actor in the handle just after the actor took
	// the request.)
	require.Eventually(t, func() bool { return clPID(e, target) == pid }, wait, time.Millisecond,
		"the scenario: the pooled actor of A's old load serves %s", target)
	for range 3 {
		waiters = append(waiters, getAsync(ctx, e, target, g.load))
	}
	awaitWaiters(t, e, misses+4)

	// A's old loader ends now, and its outcome reaches that actor.
	running := clRunningLoaders() // A's and target's, and other tests' leftovers
	close(release)
	// (At most: a leftover of an earlier test may end meanwhile.)
	require.Eventually(t, func() bool { return clRunningLoaders() <= running-1 }, wait, time.Millisecond,
		"A's old loader never ended, or its outcome started another load of %s", target)
	// A request sent after the late outcome is handled after it.
	waiters = append(waiters, getAsync(ctx, e, target, g.load))
	awaitWaiters(t, e, misses+5)

	st := e.Stats()
	require.Zero(t, st.SlotRestarts, "A's late outcome restarted the actor serving %s", target)
	require.Equal(t, int32(1), g.calls.Load(), "%s's load was restarted", target)
	require.Equal(t, uint64(1), st.Actors, "%s lost its actor", target)
	for i, w := range waiters {
		select {
		case r := <-w:
			t.Fatalf("%s's waiter %d answered by A's late outcome: %v, %v", target, i, r.v, r.err)
		default:
		}
	}
	if target == "B" {
		require.False(t, e.Cached("B"), "A's late outcome was cached under B")
		require.True(t, e.Cached("A"))
		v, err = e.Get(ctx, "A", identity)
		require.NoError(t, err)
		require.Equal(t, "A-new", v, "A's late outcome replaced A's reload")
	} else {
		require.False(t, e.Cached("A"), "A's late outcome was cached after A's invalidation")
	}

	// target's own load completes: every waiter gets its value.
	g.open()
	for i, w := range waiters {
		r := await(t, w)
		require.NoError(t, r.err, "%s's waiter %d", target, i)
		require.Equal(t, target+"-own", r.v, "%s's waiter %d", target, i)
	}
	v, err = e.Get(ctx, target, identity)
	require.NoError(t, err)
	require.Equal(t, target+"-own", v, "%s does not hold its own value", target)
	if target == "B" {
		v, err = e.Get(ctx, "A", identity)
		require.NoError(t, err)
		require.Equal(t, "A-new", v)
	}
	st = e.Stats()
	require.Zero(t, st.SlotRestarts)
	require.Equal(t, int32(1), g.calls.Load())
	require.NoError(t, e.Close())
	goleak.VerifyNone(t, ignore, clDeadLetterThrottle)
}

// Close racing a stream of cold misses, half of them on loaders that run
// until Close cancels them (their actors stay bound, so the router has no
// pooled actor and spawns one per miss), half on quick loaders (their
// actors are busy on workers with results). Close must stop the router
// even when a miss reaches it while it waits for a busy actor to stop:
// it returns without error, every Get returns, nothing is left running.
//
// Before the fix, about one run in four of 30 rounds had Close return
// "stopping the router: future: timeout" after 10 s, or "loaders still
// running at shutdown": the stopping router had spawned an actor that
// nothing stopped (TestRouterStoppingBindsNoActor in actors/).
func TestCombinedCloseRacingColdMisses(t *testing.T) {
	rounds := 30
	if testing.Short() {
		rounds = 5
	}
	for round := range rounds {
		ignore := goleak.IgnoreCurrent()
		e, err := New(WithPassivateAfter(0), WithLoadTimeout(time.Minute))
		require.NoError(t, err)
		t.Cleanup(func() { _ = e.Close() })
		polite := func(ctx context.Context, _ string) (any, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		var parked sync.WaitGroup // Gets whose loader waits for Close
		stop := spin(8, func(g, i int) bool {
			id := fmt.Sprintf("g%d-%d", g, i)
			if i%2 == 0 {
				parked.Add(1)
				go func() {
					defer parked.Done()
					_, _ = e.Get(context.Background(), id, polite)
				}()
				return true
			}
			if _, err := e.Get(context.Background(), id, identity); err != nil && !errors.Is(err, ErrClosed) {
				t.Errorf("Get %s: %v", id, err)
				return false
			}
			return true
		})
		require.Eventually(t, func() bool { return e.Stats().Loads > 200 }, wait, time.Millisecond, "the misses never started")
		// Shutdown with room, not Close's 2 s: stopping hundreds of actors
		// with loads on a loaded machine may take longer, which is no
		// defect. The defect (a router that never stops) fails at once with
		// the poison's own timeout, whatever ctx allows.
		sctx, cancel := context.WithTimeout(context.Background(), wait)
		err = e.Shutdown(sctx)
		cancel()
		done := make(chan struct{})
		go func() { stop(); parked.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(wait):
			t.Fatalf("round %d: a Get did not return after Close", round)
		}
		require.NoError(t, err, "round %d: Close", round)
		goleak.VerifyNone(t, ignore, clDeadLetterThrottle)
	}
}
