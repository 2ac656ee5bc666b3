package slotcache

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/internal/redistest"
)

// opRecorder is an Observer that keeps every operation it saw end, and marks
// the contexts it returns so that tests can tell the loader got them.
type opRecorder struct {
	mu    sync.Mutex
	ended []ended
}

type ended struct {
	op      Operation
	outcome string
	err     error
}

type markKey struct{}

func (r *opRecorder) Start(ctx context.Context, op Operation) (context.Context, func(string, error)) {
	return context.WithValue(ctx, markKey{}, op.Name), func(outcome string, err error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.ended = append(r.ended, ended{op, outcome, err})
	}
}

func (r *opRecorder) named(name string) []ended {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []ended
	for _, e := range r.ended {
		if e.op.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// TestLoadLatencyIsRecordedPerLoadNotPerHit: a miss adds one duration to
// LoadLatency by the time its Get returns; hits add nothing.
func TestLoadLatencyIsRecordedPerLoadNotPerHit(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	slow := func(context.Context, string) (any, error) {
		time.Sleep(2 * time.Millisecond) // a duration to measure, not a wait for a condition
		return "v", nil
	}
	_, err := e.Get(ctx, "a", slow)
	require.NoError(t, err)
	st := e.Stats()
	require.Equal(t, uint64(1), st.LoadLatency.Count())
	assert.GreaterOrEqual(t, st.LoadLatency.Sum, 2*time.Millisecond)
	assert.GreaterOrEqual(t, st.LoadLatency.Quantile(1), 2500*time.Microsecond)
	for range 100 {
		_, err = e.Get(ctx, "a", slow)
		require.NoError(t, err)
	}
	st = e.Stats()
	assert.Equal(t, uint64(100), st.Hits)
	assert.Equal(t, uint64(1), st.LoadLatency.Count(), "hits are not timed")
	assert.Zero(t, st.FillWait.Count())
}

// TestObserverSeesLoadsAndPublishes: the observer hears each load with its
// error, the loader runs in the context it returned, and invalidations are
// reported with their publish outcome; named caches carry their name.
func TestObserverSeesLoadsAndPublishes(t *testing.T) {
	rec := &opRecorder{}
	e := newEngine(t, WithObserver(rec))
	ctx := context.Background()
	var sawMark any
	_, err := e.Get(ctx, "a", func(ctx context.Context, _ string) (any, error) {
		sawMark = ctx.Value(markKey{})
		return "v", nil
	})
	require.NoError(t, err)
	boom := errors.New("boom")
	_, err = e.Get(ctx, "b", func(context.Context, string) (any, error) { return nil, boom })
	require.ErrorIs(t, err, boom)

	loads := rec.named(OperationLoad)
	require.Len(t, loads, 2)
	assert.Equal(t, OperationLoad, sawMark, "the loader runs in the observer's context")
	assert.Equal(t, Operation{Name: OperationLoad, SlotID: "a"}, loads[0].op)
	assert.NoError(t, loads[0].err)
	assert.ErrorIs(t, loads[1].err, boom)

	require.NoError(t, e.Invalidate(ctx, "a"))
	require.NoError(t, e.InvalidateAll(ctx))
	pubs := rec.named(OperationPublish)
	require.Len(t, pubs, 2)
	assert.Equal(t, "a", pubs[0].op.SlotID)
	assert.Equal(t, "*", pubs[1].op.SlotID)

	c, err := NewCache(e, "users", func(context.Context, string) (int, error) { return 1, nil })
	require.NoError(t, err)
	_, err = c.Get(ctx, "u")
	require.NoError(t, err)
	loads = rec.named(OperationLoad)
	require.Len(t, loads, 3, "named caches inherit the observer")
	assert.Equal(t, "users", loads[2].op.Cache)
}

// TestTotalsNeverGoBackwardsAcrossReset: Reset zeroes Stats but Totals
// keeps every count and the histograms, and grows from there.
func TestTotalsNeverGoBackwardsAcrossReset(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	load := func(context.Context, string) (any, error) { return 1, nil }
	for _, id := range []string{"a", "b", "a"} {
		_, err := e.Get(ctx, id, load)
		require.NoError(t, err)
	}
	require.NoError(t, e.Invalidate(ctx, "a"))
	before := e.Totals()
	require.Equal(t, uint64(2), before.Loads)
	require.Equal(t, uint64(1), before.Hits)
	require.Equal(t, uint64(2), before.LoadLatency.Count())

	e.Reset()
	assert.Zero(t, e.Stats().Loads)
	assert.Zero(t, e.Stats().LoadLatency.Count())
	after := e.Totals()
	assert.Equal(t, before.Loads, after.Loads)
	assert.Equal(t, before.Hits, after.Hits)
	assert.Equal(t, before.Invalidations, after.Invalidations)
	assert.Equal(t, before.LoadLatency, after.LoadLatency)

	_, err := e.Get(ctx, "c", load)
	require.NoError(t, err)
	e.Reset()
	final := e.Totals()
	assert.Equal(t, uint64(3), final.Loads)
	assert.Equal(t, uint64(3), final.LoadLatency.Count())

	// Gauges are levels: the current one, not a sum with what Reset saw.
	sum := addStats(Stats{Slots: 5, FillWaiting: 3, Loads: 1}, Stats{Slots: 2, FillWaiting: 1, Loads: 1})
	assert.Equal(t, Stats{Slots: 2, FillWaiting: 1, Loads: 2}, sum)
}

// TestFillObserverSeesLeaseAndWait: with WithFill, the leader's load runs
// inside a fill lease and the follower's wait is timed into FillWait and
// reported with its outcome.
func TestFillObserverSeesLeaseAndWait(t *testing.T) {
	srv := redistest.Start(t)
	ch := rtChannel(t)
	p := FillPolicy{Lease: 3 * time.Minute, Wait: 2 * time.Minute, PollMin: time.Minute, PollMax: time.Minute}
	ra, rb := &opRecorder{}, &opRecorder{}
	a := ftEngines(t, srv, ch, 1, p, WithLoadTimeout(5*time.Minute), WithObserver(ra))[0]
	b := ftEngines(t, srv, ch, 1, p, WithLoadTimeout(5*time.Minute), WithObserver(rb))[0]

	g := ftNewGate(func(int32) (any, error) { return "v", nil })
	leader := getAsync(context.Background(), a, "s", g.load)
	g.awaitCall(t)
	follower := getAsync(context.Background(), b, "s", g.load)
	ftAwaitFollowing(t, b, 1)
	g.open()
	require.Equal(t, "v", await(t, leader).v)
	require.Equal(t, "v", await(t, follower).v)

	leases := ra.named(OperationFillLease)
	require.Len(t, leases, 1)
	assert.Equal(t, "leader_load", leases[0].outcome)
	assert.Empty(t, ra.named(OperationFillWait))
	waits := rb.named(OperationFillWait)
	require.Len(t, waits, 1)
	assert.Equal(t, "follower_woken", waits[0].outcome)
	assert.Equal(t, uint64(1), b.Stats().FillWait.Count())
	assert.Zero(t, a.Stats().FillWait.Count())
	assert.Equal(t, uint64(1), a.Stats().LoadLatency.Count())
	assert.Equal(t, uint64(1), b.Stats().LoadLatency.Count())
}

// TestTotalsMonotonicUnderConcurrentReset: with Gets, invalidations and
// Resets running concurrently, every counter of successive Totals
// snapshots only grows, which is what Prometheus and OTel need. A Totals
// that read the retired counts under the lock and the live ones after it
// fails it only sometimes (one run in three at 5,000 snapshots): a race
// window, not a certainty.
func TestTotalsMonotonicUnderConcurrentReset(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	stopWork := spin(2, func(w, i int) bool {
		id := string(rune('a' + (i+w)%20))
		_, _ = e.Get(ctx, id, func(context.Context, string) (any, error) { return i, nil })
		if i%7 == 0 {
			_ = e.Invalidate(ctx, id)
		}
		return true
	})
	stopResets := spin(1, func(int, int) bool { e.Reset(); return true })
	counters := func(s Stats) map[string]uint64 {
		out := map[string]uint64{"LoadLatency": s.LoadLatency.Count()}
		v := reflect.ValueOf(s)
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.Type.Kind() == reflect.Uint64 && !isGauge(f) {
				out[f.Name] = v.Field(i).Uint()
			}
		}
		return out
	}
	prev := counters(e.Totals())
	for range 1000 {
		cur := counters(e.Totals())
		for k, v := range cur {
			require.GreaterOrEqual(t, v, prev[k], "%s went backwards", k)
		}
		prev = cur
	}
	stopWork()
	stopResets()
	assert.Positive(t, prev["Hits"]+prev["Loads"], "the workload ran")
}

// TestSinceHeardGrowsDuringOutage: while Redis is down, SinceHeard keeps
// growing from the last time Redis was heard; the bridge's reconnection
// attempts hear nothing and must not reset it (an exported last-heard
// gauge that restarts at each retry hides the outage it is there to show).
func TestSinceHeardGrowsDuringOutage(t *testing.T) {
	srv := redistest.Start(t)
	var logs syncBuffer
	e := rtEngine(t, srv.Client(t), rtChannel(t),
		WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	rtReady(t, e)

	srv.Kill()
	awaitLog := func(msg string) {
		t.Helper()
		require.Eventually(t, func() bool { return strings.Contains(logs.String(), msg) }, rtWait, time.Millisecond, "no %q in the log:\n%s", msg, logs.String())
	}
	// The session that heard Redis last has ended: nothing is heard from now.
	awaitLog("Redis subscription lost")
	lost := time.Now()
	// Two later attempts have started (and failed) since: the first warns,
	// the next ones log at Debug.
	awaitLog("subscribe attempt failed")
	silent := time.Since(lost)
	assert.GreaterOrEqual(t, e.Stats().SinceHeard, silent, "SinceHeard was reset by a reconnection attempt")
}

// TestSubscribedHoldsUnderTraffic: a subscription that is up reads as up
// while messages pour in; the bridge's brief holds of its lock around each
// message must not make a scrape see it down (an alert on
// slotcache_redis_subscribed == 0 would flap with the traffic).
func TestSubscribedHoldsUnderTraffic(t *testing.T) {
	srv := redistest.Start(t)
	client, ch := srv.Client(t), rtChannel(t)
	e := rtEngine(t, client, ch)
	rtReady(t, e)
	require.Eventually(t, func() bool { return e.Stats().Subscribed }, rtWait, rtPoll)

	const n = 5000
	published := make(chan error, 1)
	go func() {
		pipe := client.Pipeline()
		for i := range n {
			pipe.Publish(context.Background(), ch, `{"slotId":"s`+strconv.Itoa(i%50)+`","_origin":"elsewhere"}`)
		}
		pipe.Publish(context.Background(), ch, "end") // malformed: counted once all the others are in
		_, err := pipe.Exec(context.Background())
		published <- err
	}()
	reads, down := 0, 0
	deadline := time.Now().Add(rtWait)
	for e.Stats().MalformedMessages == 0 {
		require.True(t, time.Now().Before(deadline), "the messages never all arrived: %+v", e.Stats())
		reads++
		if !e.Stats().Subscribed {
			down++
		}
	}
	require.NoError(t, <-published)
	assert.Zero(t, down, "Subscribed read false %d times out of %d while messages arrived", down, reads)
}
