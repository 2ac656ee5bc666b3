package slotcache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/internal/redistest"
)

// batchRecorder is a batch loader that records its calls and, when gated,
// blocks each call until the test releases it. It returns "v:<id>" for
// every ID except those in missing.
type batchRecorder struct {
	mu      sync.Mutex
	calls   [][]string
	gated   bool
	entered chan []string
	release chan struct{}
	missing map[string]bool
	err     error
}

func newBatchRecorder(gated bool) *batchRecorder {
	return &batchRecorder{gated: gated, entered: make(chan []string, 64), release: make(chan struct{}, 64), missing: map[string]bool{}}
}

func (r *batchRecorder) load(ctx context.Context, ids []string) (map[string]string, error) {
	got := append([]string(nil), ids...)
	sort.Strings(got)
	r.mu.Lock()
	r.calls = append(r.calls, got)
	r.mu.Unlock()
	r.entered <- got
	if r.gated {
		select {
		case <-r.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	out := make(map[string]string, len(ids))
	for _, id := range ids {
		if !r.missing[id] {
			out[id] = "v:" + id
		}
	}
	return out, nil
}

func (r *batchRecorder) Calls() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]string(nil), r.calls...)
}

// awaitBatch returns the IDs of the next batch call.
func (r *batchRecorder) awaitBatch(t *testing.T) []string {
	t.Helper()
	select {
	case ids := <-r.entered:
		return ids
	case <-time.After(wait):
		t.Fatal("the batch loader was never called")
		return nil
	}
}

func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%02d", prefix, i)
	}
	return out
}

// Hits come from the cache, the misses go to the batch loader together,
// and an ID the batch loader leaves out is a nil value: absent from the
// result, cached like any value (here for the TTL).
func TestGetManyBatchesMisses(t *testing.T) {
	e := newEngine(t, WithTTL(time.Hour))
	var single atomic.Int32
	rec := newBatchRecorder(false)
	rec.missing["k09"] = true
	c := newCache(t, e, "b", func(_ context.Context, id string) (string, error) {
		single.Add(1)
		return "v:" + id, nil
	}, WithBatch(rec.load, 0))
	ctx := context.Background()
	all := ids("k", 10)
	for _, id := range all[:3] {
		_, err := c.Get(ctx, id)
		require.NoError(t, err)
	}
	got, err := c.GetMany(ctx, append(all, "k00", "k05")) // duplicates are fine
	require.NoError(t, err)
	require.Len(t, got, 9, "k09 is not found")
	for _, id := range all[:9] {
		assert.Equal(t, "v:"+id, got[id])
	}
	assert.Equal(t, [][]string{all[3:10]}, rec.Calls(), "one batch with exactly the misses")
	assert.EqualValues(t, 3, single.Load(), "only the three Gets used the single loader")
	assert.True(t, c.Cached("k09"), "a missing ID is cached (nil) as the behaviour says")
	v, err := c.Get(ctx, "k09")
	require.NoError(t, err)
	assert.Equal(t, "", v, "a cached nil is V's zero value")

	got, err = c.GetMany(ctx, all)
	require.NoError(t, err)
	assert.Len(t, got, 9)
	assert.Len(t, rec.Calls(), 1, "all hits now")
}

// No batch is larger than maxSize, and every miss is loaded exactly once.
func TestGetManyMaxBatch(t *testing.T) {
	e := newEngine(t)
	rec := newBatchRecorder(false)
	c := newCache[string](t, e, "b", nil, WithBatch(rec.load, 3))
	all := ids("k", 10)
	got, err := c.GetMany(context.Background(), all)
	require.NoError(t, err)
	assert.Len(t, got, 10)
	var loaded []string
	for _, call := range rec.Calls() {
		assert.LessOrEqual(t, len(call), 3)
		loaded = append(loaded, call...)
	}
	sort.Strings(loaded)
	assert.Equal(t, all, loaded)

	// With only a batch loader, Get loads through it one ID at a time.
	v, err := c.Get(context.Background(), "single")
	require.NoError(t, err)
	assert.Equal(t, "v:single", v)
}

// GetMany and Get coalesce on the same slots: an ID whose slot is already
// loading joins that load (its ID is not in the batch), and a Get on a slot
// that the batch is loading joins the batch's load. One loader call per ID
// across both.
func TestGetManyCoalescesWithGets(t *testing.T) {
	e := newEngine(t)
	rec := newBatchRecorder(true)
	g := newGate(func(int32) (any, error) { return "single:a", nil })
	c := newCache(t, e, "b", func(ctx context.Context, id string) (string, error) {
		v, err := g.load(ctx, id)
		return v.(string), err
	}, WithBatch(rec.load, 0))
	ctx := context.Background()

	getA := make(chan string, 1)
	go func() { v, _ := c.Get(ctx, "a"); getA <- v }()
	g.awaitCall(t, 1) // a is loading for the Get

	many := make(chan map[string]string, 1)
	go func() {
		m, err := c.GetMany(ctx, []string{"a", "b", "c"})
		assert.NoError(t, err)
		many <- m
	}()
	assert.Equal(t, []string{"b", "c"}, rec.awaitBatch(t), "a joined the Get's load")

	getB := make(chan string, 1)
	go func() { v, _ := c.Get(ctx, "b"); getB <- v }()
	require.Eventually(t, func() bool { return c.Stats().Coalesced >= 2 }, wait, time.Millisecond,
		"the Get on b joins the batch's load (a joined too)")

	rec.release <- struct{}{}
	assert.Equal(t, "v:b", <-getB)
	g.open()
	assert.Equal(t, "single:a", <-getA)
	assert.Equal(t, map[string]string{"a": "single:a", "b": "v:b", "c": "v:c"}, <-many)
	assert.EqualValues(t, 1, g.calls.Load())
	assert.Len(t, rec.Calls(), 1)
}

// A batch never waits for a load it merely joined, even another batch's:
// two GetMany calls that join each other's loads cannot wait for each
// other.
func TestGetManyDoesNotWaitForJoinedLoads(t *testing.T) {
	e := newEngine(t)
	rec := newBatchRecorder(true)
	c := newCache[string](t, e, "b", nil, WithBatch(rec.load, 0))
	ctx := context.Background()
	first := make(chan map[string]string, 1)
	go func() { m, _ := c.GetMany(ctx, []string{"x"}); first <- m }()
	assert.Equal(t, []string{"x"}, rec.awaitBatch(t))

	second := make(chan map[string]string, 1)
	go func() { m, _ := c.GetMany(ctx, []string{"x", "z"}); second <- m }()
	assert.Equal(t, []string{"z"}, rec.awaitBatch(t), "z is loaded while x's batch is still held")
	rec.release <- struct{}{}
	rec.release <- struct{}{}
	assert.Equal(t, map[string]string{"x": "v:x"}, <-first)
	assert.Equal(t, map[string]string{"x": "v:x", "z": "v:z"}, <-second)
}

// A caller whose ctx ends gets ctx.Err() at once; the batch goes on for
// the others and its values are cached.
func TestGetManyHonoursCtx(t *testing.T) {
	e := newEngine(t)
	rec := newBatchRecorder(true)
	c := newCache[string](t, e, "b", nil, WithBatch(rec.load, 0))
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() { _, err := c.GetMany(ctx, []string{"p", "q"}); res <- err }()
	rec.awaitBatch(t)
	other := make(chan string, 1)
	go func() { v, _ := c.Get(context.Background(), "p"); other <- v }()
	cancel()
	select {
	case err := <-res:
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(wait):
		t.Fatal("GetMany did not return when its ctx ended")
	}
	rec.release <- struct{}{}
	assert.Equal(t, "v:p", <-other)
	require.Eventually(t, func() bool { return c.Cached("q") }, wait, time.Millisecond)
}

// A failed batch fails each of its slots, named in the joined error; other
// slots are returned.
func TestGetManyErrors(t *testing.T) {
	e := newEngine(t)
	rec := newBatchRecorder(false)
	boom := errors.New("db down")
	c := newCache[string](t, e, "b", nil, WithBatch(rec.load, 0))
	_, err := c.Get(context.Background(), "ok")
	require.NoError(t, err)
	rec.err = boom
	got, err := c.GetMany(context.Background(), []string{"ok", "m1", "m2"})
	require.ErrorIs(t, err, boom)
	assert.ErrorContains(t, err, `"m1"`)
	assert.ErrorContains(t, err, `"m2"`)
	assert.Equal(t, map[string]string{"ok": "v:ok"}, got)
	assert.False(t, c.Cached("m1"), "errors are not cached")
}

// Without a batch loader, GetMany loads every miss at once with the
// cache's loader.
func TestGetManyWithoutBatchLoader(t *testing.T) {
	e := newEngine(t)
	var calls atomic.Int32
	c := newCache(t, e, "b", func(_ context.Context, id string) (int, error) {
		calls.Add(1)
		return len(id), nil
	})
	got, err := c.GetMany(context.Background(), []string{"a", "bb", "ccc"})
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"a": 1, "bb": 2, "ccc": 3}, got)
	assert.EqualValues(t, 3, calls.Load())
}

// With fill, a batch on one instance shares its values; GetMany on another
// instance gets them from the shared tier without calling its batch loader
// (its loads start and are answered by shared copies, never registering),
// and a mix of shared and unshared IDs sends only the unshared ones to the
// batch loader.
func TestGetManyWithFillAcrossInstances(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	ch := rtChannel(t)
	recA, recB := newBatchRecorder(false), newBatchRecorder(false)
	a := newCache[string](t, rtEngine(t, srv.Client(t), ch), "m", nil, WithBatch(recA.load, 0), WithFill(FillPolicy{}))
	b := newCache[string](t, rtEngine(t, srv.Client(t), ch), "m", nil, WithBatch(recB.load, 0), WithFill(FillPolicy{}))
	require.NoError(t, a.WaitReady(ctx))
	require.NoError(t, b.WaitReady(ctx))

	got, err := a.GetMany(ctx, []string{"x", "y", "z"})
	require.NoError(t, err)
	assert.Len(t, got, 3)
	assert.Equal(t, [][]string{{"x", "y", "z"}}, recA.Calls())

	got, err = b.GetMany(ctx, []string{"x", "y", "z", "w"})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"x": "v:x", "y": "v:y", "z": "v:z", "w": "v:w"}, got)
	assert.Equal(t, [][]string{{"w"}}, recB.Calls(), "x, y, z came from the shared tier")
	assert.EqualValues(t, 3, b.Stats().FillSharedHits)
}

// A batch loader's panic is a loader panic: every slot of the batch fails
// with a *PanicError that keeps the loader's stack, the panic is counted
// and logged once, and the slots go on working and passivate.
func TestGetManyBatchLoaderPanic(t *testing.T) {
	logs := &syncBuffer{}
	e := newEngine(t, WithPassivateAfter(0), WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	var panicking atomic.Bool
	panicking.Store(true)
	c := newCache[string](t, e, "p", nil, WithBatch(func(_ context.Context, ids []string) (map[string]string, error) {
		if panicking.Load() {
			panicBatchLoader()
		}
		out := make(map[string]string, len(ids))
		for _, id := range ids {
			out[id] = "v:" + id
		}
		return out, nil
	}, 0))
	all := ids("k", 5)
	got, err := c.GetMany(context.Background(), all)
	assert.Empty(t, got)
	for _, id := range all {
		assert.ErrorContains(t, err, fmt.Sprintf("%q", id))
	}
	require.ErrorIs(t, err, ErrLoaderPanic)
	var pe *PanicError
	require.ErrorAs(t, err, &pe)
	assert.Contains(t, string(pe.Stack), "panicBatchLoader", "the stack is the batch loader's")
	require.Eventually(t, func() bool { return c.Stats().SlotRestarts == 1 }, wait, time.Millisecond,
		"the leader's slot restarted, as after any loader panic")
	assert.EqualValues(t, 1, c.Stats().LoaderPanics, "one panic, counted once")
	assert.Equal(t, 1, strings.Count(logs.String(), "loader panicked"), "and logged once")
	require.Eventually(t, func() bool { return c.Stats().Actors == 0 }, wait, time.Millisecond, "the slots passivate")

	panicking.Store(false)
	got, err = c.GetMany(context.Background(), all)
	require.NoError(t, err)
	assert.Len(t, got, 5, "the slots still work")
}

func panicBatchLoader() { panic("batch loader bug") }

// GetMany under a size limit returns every value, whether the limit admits
// it or not, and the limit holds.
func TestGetManyWithMaxSlots(t *testing.T) {
	e := newEngine(t)
	rec := newBatchRecorder(false)
	c := newCache[string](t, e, "b", nil, WithBatch(rec.load, 0), WithMaxSlots(5))
	all := ids("k", 20)
	for round := range 2 {
		got, err := c.GetMany(context.Background(), all)
		require.NoError(t, err)
		require.Len(t, got, 20, "round %d", round)
		for _, id := range all {
			assert.Equal(t, "v:"+id, got[id])
		}
		assert.LessOrEqual(t, c.Stats().Slots, uint64(5), "the limit holds")
	}
	assert.Positive(t, c.Stats().Rejected+c.Stats().EvictedSize, "a full cache evicts or rejects")
	assert.Len(t, rec.Calls()[0], 20, "the first round is one batch")
}

// An ID that the batch loader leaves out is cached as nil for the
// behaviour's negative TTL, not for the TTL, and Get then returns V's zero
// value without loading.
func TestGetManyMissingIDsWithNegativeTTL(t *testing.T) {
	e := newEngine(t, WithTTL(time.Hour))
	rec := newBatchRecorder(false)
	rec.missing["gone"] = true
	c := newCache[string](t, e, "b", nil, WithBatch(rec.load, 0), WithBehaviour(NegativeTTL(20*time.Millisecond)))
	got, err := c.GetMany(context.Background(), []string{"here", "gone"})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"here": "v:here"}, got)
	v, ok := c.Peek("gone")
	assert.True(t, ok, "the missing ID is cached")
	assert.Equal(t, "", v, "as V's zero value")
	require.Eventually(t, func() bool { return !c.Cached("gone") }, wait, time.Millisecond, "for the negative TTL")
	assert.True(t, c.Cached("here"), "a value keeps the TTL")
	got, err = c.GetMany(context.Background(), []string{"here", "gone"})
	require.NoError(t, err)
	assert.Len(t, got, 1)
	assert.Equal(t, [][]string{{"gone", "here"}, {"gone"}}, rec.Calls(), "only the expired nil is loaded again")
}

// Set overtakes a batch in flight as it overtakes a single load: the
// GetMany that asked before gets the batch's value, the Set's value stays
// cached, and the batch's other slots are cached as usual.
func TestGetManySetOvertakesBatch(t *testing.T) {
	e := newEngine(t, WithTTL(time.Hour))
	rec := newBatchRecorder(true)
	c := newCache[string](t, e, "b", nil, WithBatch(rec.load, 0))
	ctx := context.Background()
	many := make(chan map[string]string, 1)
	go func() { m, _ := c.GetMany(ctx, []string{"a", "b"}); many <- m }()
	assert.Equal(t, []string{"a", "b"}, rec.awaitBatch(t))

	require.NoError(t, c.Set(ctx, "a", "set"))
	rec.release <- struct{}{}
	assert.Equal(t, map[string]string{"a": "v:a", "b": "v:b"}, <-many, "asked before the Set")
	got, err := c.GetMany(ctx, []string{"a", "b"})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"a": "set", "b": "v:b"}, got, "the batch's a was not cached over the Set")
	assert.Len(t, rec.Calls(), 1)
}
