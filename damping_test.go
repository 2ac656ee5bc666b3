package slotcache

// Storms of remote invalidations against a real redis-server: a raw
// go-redis client publishes as a hostile client (or a deploy looping on
// InvalidateAll) would, and the damped engine must keep its source loads
// within the stated bound, never serve a value that an applied watermark
// says is gone, apply the storm's last invalidation, and answer confirmed
// invalidations only once applied.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/internal/redistest"
)

// stSource is a source whose version moves before every invalidation;
// loads return the version they read and are counted per slot.
type stSource struct {
	version atomic.Int64
	mu      sync.Mutex
	loads   map[string]int
}

func (s *stSource) load(_ context.Context, slotID string) (any, error) {
	s.mu.Lock()
	s.loads[slotID]++
	s.mu.Unlock()
	return s.version.Load(), nil
}

func (s *stSource) loadsOf(slotID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loads[slotID]
}

// stPublished is one invalidation of the flood: the version bumped before
// it, and when (engine clock) Redis had taken it.
type stPublished struct {
	at      int64
	version int64
}

// stFlood is a raw publisher of payload, bumping the source before each
// message, and a log of what it published, in order.
type stFlood struct {
	mu  sync.Mutex
	log []stPublished
}

// run publishes n messages as fast as one connection can.
func (f *stFlood) run(t *testing.T, e *Engine, client *redis.Client, src *stSource, payload string, n int) {
	ctx := context.Background()
	for range n {
		v := src.version.Add(1)
		if err := client.Publish(ctx, e.Channel(), payload).Err(); err != nil {
			t.Errorf("publish: %v", err)
			return
		}
		at := e.env.Clock.At(time.Now())
		f.mu.Lock()
		f.log = append(f.log, stPublished{at, v})
		f.mu.Unlock()
	}
}

// before returns the version of the last message Redis took before w
// (engine clock), 0 if none.
func (f *stFlood) before(w int64) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := sort.Search(len(f.log), func(i int) bool { return f.log[i].at >= w })
	if i == 0 {
		return 0
	}
	return f.log[i-1].version
}

// stEngine returns an engine whose damping windows grow well past its
// heartbeat, so that a watermark passing a held invalidation would show.
func stEngine(t *testing.T, client *redis.Client) *Engine {
	e := rtEngine(t, client, rtChannel(t),
		WithHeartbeat(100*time.Millisecond), WithMaxStaleness(2*time.Second),
		WithInvalidationDamping(time.Second))
	rtReady(t, e)
	return e
}

// stReaders reads slots (slot(n) for the n-th Get) on 4 goroutines until
// the returned stop, which reports the first values of a flooded slot
// older than what the watermark, read before the Get, says was
// invalidated.
func stReaders(t *testing.T, e *Engine, src *stSource, flood *stFlood, slot func(n int) string, flooded func(id string) bool) (stop func() []string) {
	var mu sync.Mutex
	var stale []string
	const readers = 4
	stopReading := spin(readers, func(r, i int) bool {
		id := slot(i*readers + r)
		gone := flood.before(e.env.LastWatermark())
		v, err := e.Get(context.Background(), id, src.load)
		if err != nil {
			t.Errorf("Get %s: %v", id, err)
			return false
		}
		if got := cbVersion(v); flooded(id) && got < gone {
			mu.Lock()
			if len(stale) < 5 {
				stale = append(stale, fmt.Sprintf("%s: version %d after the watermark passed version %d", id, got, gone))
			}
			mu.Unlock()
		}
		return true
	})
	return func() []string { stopReading(); return stale }
}

// stStorm warms slots slot(0) to slot(slots-1), then publishes payload
// messages times while stReaders read, and checks that no Get of a
// flooded slot returned a value the watermark said was invalidated.
func stStorm(t *testing.T, e *Engine, client *redis.Client, src *stSource, slots int, slot func(n int) string, flooded func(id string) bool, payload string, messages int) {
	t.Helper()
	for i := range slots {
		_, err := e.Get(context.Background(), slot(i), src.load)
		require.NoError(t, err)
	}
	var flood stFlood
	stopReading := stReaders(t, e, src, &flood, slot, flooded)
	flood.run(t, e, client, src, payload, messages)
	require.Empty(t, stopReading(), "a value served after the watermark passed its invalidation")
}

// stEpochs is how many times e may have dropped every slot or slotID since
// it was warm: invalidations applied at once, flushes, and resyncs. A
// slot is loaded at most once per such epoch.
func stEpochs(st Stats) uint64 {
	atOnce := st.CrossProcessInvalidations - st.DampedInvalidations
	return atOnce + st.DampFlushes + st.Subscriptions - 1 + st.HeartbeatMisses
}

// stLast publishes one more invalidation after the flood, waits until the
// watermark has passed it, and returns the version it invalidated.
func stLast(t *testing.T, e *Engine, client *redis.Client, src *stSource, payload string, published int) int64 {
	v := src.version.Add(1)
	rtPublish(t, client, e.Channel(), payload)
	after := e.env.Clock.At(time.Now())
	require.Eventually(t, func() bool { return e.env.LastWatermark() > after }, rtWait, rtPoll, "no watermark after the last invalidation")
	if st := e.Stats(); st.Subscriptions == 1 && st.HeartbeatMisses == 0 {
		// Nothing lost with a session (which the resync covers): every
		// message counts, the held ones once a flush applied them.
		require.Equal(t, uint64(published+1), st.CrossProcessInvalidations, "every invalidation applied, the held ones by a flush")
	}
	return v
}

// TestStormOfAllIsDamped: a flood of "*" against 100 warm slots and 4
// readers. Each slot is loaded at most once per epoch (warm load, "*"
// applied at once, flush, resync), the epochs are a small fraction of the
// messages, no Get returns a value the watermark says was invalidated, and
// once the flood stops its last "*" is applied.
func TestStormOfAllIsDamped(t *testing.T) {
	srv := redistest.Start(t)
	e := stEngine(t, srv.Client(t))
	src := &stSource{loads: map[string]int{}}
	const slots = 100
	id := func(n int) string { return "s" + strconv.Itoa(n%slots) }
	const messages = 3000
	payload := `{"slotId":"*","_origin":"storm"}`
	stStorm(t, e, srv.Client(t), src, slots, id, func(string) bool { return true }, payload, messages)

	last := stLast(t, e, srv.Client(t), src, payload, messages)
	for i := range slots {
		v, err := e.Get(context.Background(), id(i), src.load)
		require.NoError(t, err)
		require.GreaterOrEqual(t, v.(int64), last, "%s: the last invalidation was not applied", id(i))
	}

	st := e.Stats()
	t.Logf("%d messages: %d applied at once, %d held in %d flushes (max delay %v), %d subscriptions, %d heartbeat misses",
		messages+1, st.CrossProcessInvalidations-st.DampedInvalidations, st.DampedInvalidations, st.DampFlushes,
		st.DampMaxDelay, st.Subscriptions, st.HeartbeatMisses)
	require.NotZero(t, st.DampedInvalidations)
	require.NotZero(t, st.DampMaxDelay)
	epochs := stEpochs(st)
	require.LessOrEqual(t, epochs*10, uint64(messages), "damping coalesced less than 10 messages per epoch")
	for i := range slots {
		require.LessOrEqual(t, uint64(src.loadsOf(id(i))), 1+epochs, "%s: loads past the bound", id(i))
	}
}

// TestStormOfOneSlotIsDamped: the same with a flood on one slot that half
// the reads ask for: it is loaded at most once per epoch, the others are
// never reloaded, and the last invalidation is applied.
func TestStormOfOneSlotIsDamped(t *testing.T) {
	srv := redistest.Start(t)
	e := stEngine(t, srv.Client(t))
	src := &stSource{loads: map[string]int{}}
	const slots = 100
	id := func(n int) string {
		if n%2 == 0 {
			return "hot"
		}
		return "s" + strconv.Itoa(n%slots)
	}
	const messages = 3000
	payload := `{"slotId":"hot","_origin":"storm"}`
	stStorm(t, e, srv.Client(t), src, slots, id, func(id string) bool { return id == "hot" }, payload, messages)

	last := stLast(t, e, srv.Client(t), src, payload, messages)
	v, err := e.Get(context.Background(), "hot", src.load)
	require.NoError(t, err)
	require.GreaterOrEqual(t, v.(int64), last, "the last invalidation was not applied")

	st := e.Stats()
	t.Logf("%d messages: %d applied at once, %d held in %d flushes (max delay %v)",
		messages+1, st.CrossProcessInvalidations-st.DampedInvalidations, st.DampedInvalidations, st.DampFlushes, st.DampMaxDelay)
	require.NotZero(t, st.DampedInvalidations)
	epochs := stEpochs(st)
	require.Less(t, epochs, uint64(messages), "nothing coalesced")
	require.LessOrEqual(t, uint64(src.loadsOf("hot")), 1+epochs, "loads past the bound")
	resyncs := uint64(st.Subscriptions - 1 + st.HeartbeatMisses)
	for i := 1; i < slots; i += 2 {
		require.LessOrEqual(t, uint64(src.loadsOf(id(i))), 1+resyncs, "%s reloaded by another slot's storm", id(i))
	}
}

// TestStormConfirmedAnsweredWhenApplied: under a flood of "*", the damped
// engine holds a confirmed invalidation with the flood and answers it only
// once its flush applied it: when InvalidateConfirmed returns on the
// writer, the damped engine no longer serves the old value. The writer's
// own Invalidate is not damped.
func TestStormConfirmedAnsweredWhenApplied(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client(t)
	ch := rtChannel(t)
	opts := []Option{WithHeartbeat(100 * time.Millisecond), WithMaxStaleness(2 * time.Second), WithInvalidationDamping(300 * time.Millisecond)}
	a := rtEngine(t, client, ch, opts...)
	w := rtEngine(t, client, ch, opts...)
	rtReady(t, a)
	rtReady(t, w)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer stFloodAll(t, client, ch)()
	require.Eventually(t, func() bool { return a.Stats().DampedInvalidations > 0 }, rtWait, rtPoll, "the flood is not damped")
	stConfirmedRounds(ctx, t, a, w)
}

// stFloodAll publishes "*" on ch from client until the returned function
// stops it.
func stFloodAll(t *testing.T, client *redis.Client, ch string) (stop func()) {
	return stFloodOf(t, client, ch, "*")
}

// stFloodOf publishes invalidations of slotID on ch from client until the
// returned function stops it.
func stFloodOf(t *testing.T, client *redis.Client, ch, slotID string) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			if err := client.Publish(ctx, ch, `{"slotId":"`+slotID+`","_origin":"storm"}`).Err(); err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("publish: %v", err)
				return
			}
		}
	}()
	return func() { cancel(); wg.Wait() }
}

// stConfirmedRounds: when w's InvalidateConfirmed returns, a, whose
// invalidations are damped, no longer serves the old value, and w, whose
// own invalidation is never damped, has dropped it.
func stConfirmedRounds(ctx context.Context, t *testing.T, a, w *Engine) {
	src := &stSource{loads: map[string]int{}}
	for round := range 10 {
		_, err := a.Get(ctx, "k", src.load) // cached with the old version
		require.NoError(t, err)
		_, err = w.Get(ctx, "k", src.load)
		require.NoError(t, err)
		v := src.version.Add(1)
		wctx, wcancel := context.WithTimeout(ctx, rtWait)
		require.NoError(t, w.InvalidateConfirmed(wctx, "k"), "round %d", round)
		wcancel()
		require.False(t, w.Cached("k"), "round %d: the writer's own invalidation is applied at once", round)
		got, err := a.Get(ctx, "k", src.load)
		require.NoError(t, err)
		require.GreaterOrEqual(t, got.(int64), v, "round %d: answered before it was applied", round)
	}
}

// TestStormWithFill: damping and WithFill together. Under a flood of
// another slot, fill notices are not held with it: a follower whose polls
// are a minute apart is woken by its leader's notice on another engine.
// Under a flood of "*", a confirmed invalidation held by a damped engine
// overtakes its fill loads: once it is answered, neither the engine nor
// the shared tier serves the old value.
func TestStormWithFill(t *testing.T) {
	srv := redistest.Start(t)
	ch := rtChannel(t)
	p := FillPolicy{Lease: 3 * time.Minute, Wait: 2 * time.Minute, PollMin: time.Minute, PollMax: time.Minute, Codec: JSONOf[int64]()}
	opts := []Option{WithHeartbeat(100 * time.Millisecond), WithMaxStaleness(2 * time.Second),
		WithInvalidationDamping(300 * time.Millisecond), WithLoadTimeout(5 * time.Minute)}
	es := ftEngines(t, srv, ch, 2, p, opts...)
	a, w := es[0], es[1]

	ctx := context.Background()
	held := func() bool { return a.Stats().DampedInvalidations > 0 }
	stop := stFloodOf(t, srv.Client(t), ch, "x") // another slot: w's load is not overtaken
	require.Eventually(t, held, rtWait, rtPoll, "the flood is not damped")
	g := ftNewGate(func(int32) (any, error) { return int64(7), nil })
	leader := getAsync(ctx, w, "n", g.load)
	g.awaitCall(t)
	follower := getAsync(ctx, a, "n", g.load)
	ftAwaitFollowing(t, a, 1)
	g.open()
	require.Equal(t, int64(7), await(t, leader).v)
	r := await(t, follower)
	require.NoError(t, r.err)
	require.Equal(t, int64(7), r.v)
	require.Equal(t, uint64(1), a.Stats().FillFollowerWoken, "the notice was held with the flood")
	require.Equal(t, int32(1), g.calls.Load())
	stop()

	damped := a.Stats().DampedInvalidations
	defer stFloodAll(t, srv.Client(t), ch)()
	require.Eventually(t, func() bool { return a.Stats().DampedInvalidations > damped }, rtWait, rtPoll, "the flood is not damped")
	stConfirmedRounds(ctx, t, a, w)
	require.NotZero(t, ftOutcomes(a, w).FillSharedHits, "the rounds never read the shared tier")
}

// TestInvalidationDampingOption: negative bounds, and bounds not below the
// staleness bound, fail New with an OptionError naming the option; the
// default bound follows a heartbeat shorter than 1 s, so that it never
// fails; zero turns damping off.
func TestInvalidationDampingOption(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client(t)
	for _, bad := range [][]Option{
		{WithInvalidationDamping(-time.Millisecond)},
		{WithInvalidationDamping(DefaultMaxStaleness)},
		{WithMaxStaleness(time.Second), WithHeartbeat(100 * time.Millisecond), WithInvalidationDamping(2 * time.Second)},
	} {
		_, err := New(append([]Option{WithRedis(client)}, bad...)...)
		var oe *OptionError
		require.True(t, errors.As(err, &oe), "%v", err)
		require.Equal(t, "WithInvalidationDamping", oe.Option)
	}
	for _, good := range []struct {
		opts  []Option
		bound time.Duration
	}{
		{nil, DefaultInvalidationDamping},
		{[]Option{WithHeartbeat(100 * time.Millisecond), WithMaxStaleness(200 * time.Millisecond)}, 100 * time.Millisecond},
		{[]Option{WithInvalidationDamping(0)}, 0},
		{[]Option{WithMaxStaleness(0), WithInvalidationDamping(time.Minute)}, time.Minute},
	} {
		cfg, err := configure(defaultConfig(), append([]Option{WithRedis(client)}, good.opts...))
		require.NoError(t, err)
		require.Equal(t, good.bound, cfg.dampingBound())
	}
	// Without Redis nothing is damped, so nothing is checked.
	e, err := New(WithInvalidationDamping(time.Hour))
	require.NoError(t, err)
	require.NoError(t, e.Close())
}

// TestNamedCacheDampingIsItsOwn: a named cache on its engine's connection
// damps with its own WithInvalidationDamping, not its engine's: turned off
// there, a burst of "*" on its channel is applied message by message while
// a sibling that inherits the engine's bound holds the repeats. Checked by
// configure against the cache's own WithMaxStaleness, the bound must be the
// one applied.
func TestNamedCacheDampingIsItsOwn(t *testing.T) {
	srv := redistest.Start(t)
	e := rtEngine(t, srv.Client(t), rtChannel(t), WithInvalidationDamping(time.Second), WithMaxStaleness(3*time.Second))
	rtReady(t, e)
	load := func(_ context.Context, id string) (string, error) { return id, nil }
	off := newCache(t, e, "off", load, WithInvalidationDamping(0))
	inherits := newCache(t, e, "inherits", load)
	pub := srv.Client(t)
	const burst = 200
	for _, c := range []*Cache[string]{off, inherits} {
		rtReady(t, c.e)
		p := pub.Pipeline()
		for range burst {
			p.Publish(context.Background(), c.Channel(), `{"slotId":"*","_origin":"storm"}`)
		}
		_, err := p.Exec(context.Background())
		require.NoError(t, err)
		require.Eventually(t, func() bool { return c.Stats().CrossProcessInvalidations == burst }, rtWait, rtPoll,
			"%s: every invalidation applied", c.Name())
	}
	require.Zero(t, off.Stats().DampedInvalidations, "the cache's own WithInvalidationDamping(0) was not honoured")
	require.NotZero(t, inherits.Stats().DampedInvalidations, "the engine's bound is not inherited")
}

// stReloader is a behaviour that reloads every invalidated slot at once,
// so that, without damping, each message of a storm is a source load.
type stReloader struct{ Base }

func (stReloader) OnInvalidate(string) bool { return true }

// TestStormWithReloadingBehaviour: a flood on one slot of an engine whose
// behaviour reloads on invalidation. OnInvalidate runs for the held
// invalidations when their flush applies them: the slot ends reloaded
// with the flood's last version without any Get, and the source loads
// stay within one per epoch (invalidation applied at once, or flush).
func TestStormWithReloadingBehaviour(t *testing.T) {
	srv := redistest.Start(t)
	e := rtEngine(t, srv.Client(t), rtChannel(t), WithInvalidationDamping(time.Second), WithBehaviour(stReloader{}))
	rtReady(t, e)
	src := &stSource{loads: map[string]int{}}
	_, err := e.Get(context.Background(), "k", src.load)
	require.NoError(t, err)

	const messages = 500
	var flood stFlood
	flood.run(t, e, srv.Client(t), src, `{"slotId":"k","_origin":"storm"}`, messages)
	last := src.version.Load()
	require.Eventually(t, func() bool { return e.Stats().CrossProcessInvalidations == messages }, rtWait, rtPoll,
		"every invalidation applied, the held ones by a flush")
	cached := func() any { // the value cached, without loading
		v, err := e.Get(context.Background(), "k", func(context.Context, string) (any, error) {
			return nil, errors.New("not cached")
		})
		if err != nil {
			return nil
		}
		return v
	}
	require.Eventually(t, func() bool { return cached() == last }, rtWait, rtPoll,
		"the last invalidation, held, was not reloaded by its flush")

	st := e.Stats()
	require.NotZero(t, st.DampedInvalidations, "nothing held: the test proves nothing")
	epochs := st.CrossProcessInvalidations - st.DampedInvalidations + st.DampFlushes
	require.LessOrEqual(t, uint64(src.loadsOf("k")), 1+epochs, "loads past the bound")
}
