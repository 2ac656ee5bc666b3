package slotcache

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/internal/redistest"
)

// newCache returns a typed cache of e, closed with it.
func newCache[V any](t *testing.T, e *Engine, name string, load func(context.Context, string) (V, error), opts ...Option) *Cache[V] {
	t.Helper()
	c, err := NewCache(e, name, load, opts...)
	require.NoError(t, err)
	return c
}

func TestCacheGetAndPeek(t *testing.T) {
	e := newEngine(t)
	var calls atomic.Int32
	c := newCache(t, e, "users", func(_ context.Context, id string) (string, error) {
		calls.Add(1)
		return "user " + id, nil
	})
	_, ok := c.Peek("1")
	assert.False(t, ok, "nothing cached yet")
	assert.Zero(t, calls.Load(), "Peek never loads")

	v, err := c.Get(context.Background(), "1")
	require.NoError(t, err)
	assert.Equal(t, "user 1", v)
	p, ok := c.Peek("1")
	assert.True(t, ok)
	assert.Equal(t, "user 1", p)
	v, err = c.Get(context.Background(), "1")
	require.NoError(t, err)
	assert.Equal(t, "user 1", v)
	assert.EqualValues(t, 1, calls.Load(), "the second Get is a hit")
	assert.False(t, e.Cached("1"), "the cache's slots are its own, not the engine's")

	require.NoError(t, c.Invalidate(context.Background(), "1"))
	_, ok = c.Peek("1")
	assert.False(t, ok)
	assert.Equal(t, "users", c.Name())
}

func TestNewCacheErrors(t *testing.T) {
	e := newEngine(t)
	load := func(context.Context, string) (int, error) { return 1, nil }
	_, err := NewCache[int](nil, "x", load)
	assert.Error(t, err)
	_, err = NewCache(e, "", load)
	assert.Error(t, err)
	_, err = NewCache[int](e, "x", nil)
	var oe *OptionError
	require.ErrorAs(t, err, &oe, "no loader and no batch loader")
	assert.Equal(t, "NewCache", oe.Option)

	newCache(t, e, "x", load)
	_, err = NewCache(e, "x", load)
	assert.ErrorContains(t, err, `"x"`, "a name is unique while open")

	// A batch loader of another type is an option error, joined with the
	// others.
	batchOfStrings := func(context.Context, []string) (map[string]string, error) { return nil, nil }
	_, err = NewCache(e, "y", load, WithBatch(batchOfStrings, 0), WithTTL(-time.Second))
	assert.ElementsMatch(t, []string{"WithBatch", "WithTTL"}, optionNames(err))

	_, err = New(WithBatch(batchOfStrings, 0))
	require.ErrorAs(t, err, &oe, "the default cache has no value type")
	assert.Equal(t, "WithBatch", oe.Option)

	require.NoError(t, e.Close())
	_, err = NewCache(e, "z", load)
	assert.ErrorIs(t, err, ErrClosed)
}

// A slot that holds another type than the caller asks for is ErrWrongType,
// naming the slot and both types, and the value is dropped: the next call
// loads the right type instead of failing until the TTL.
func TestErrWrongType(t *testing.T) {
	e := newEngine(t, WithTTL(time.Hour))
	ctx := context.Background()
	_, err := e.Get(ctx, "k", func(context.Context, string) (any, error) { return 42, nil })
	require.NoError(t, err)

	var calls atomic.Int32
	load := func(context.Context, string) (string, error) { calls.Add(1); return "forty-two", nil }
	_, err = GetAs(ctx, e, "k", load)
	require.ErrorIs(t, err, ErrWrongType)
	assert.ErrorContains(t, err, `"k"`)
	assert.ErrorContains(t, err, "int")
	assert.ErrorContains(t, err, "string")
	assert.False(t, e.Cached("k"), "a wrong-typed value is not kept")

	v, err := GetAs(ctx, e, "k", load)
	require.NoError(t, err)
	assert.Equal(t, "forty-two", v)
	assert.EqualValues(t, 1, calls.Load())
}

type poisonConfig struct {
	Model string `json:"model"`
}

// The poisoning scenario of issue 11: two instances share values through
// the fill tier. With GetAs and the untyped default codec, the instance
// that reads the shared copy gets a map[string]any, which is ErrWrongType
// and is not kept cached; a Cache[*poisonConfig] decodes into its own
// type by default, so both instances get a *poisonConfig and the second
// one never calls its loader.
func TestCachePoisoningAcrossInstancesWithFill(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	var calls atomic.Int32
	load := func(context.Context, string) (*poisonConfig, error) {
		calls.Add(1)
		return &poisonConfig{Model: "deepseek"}, nil
	}

	t.Run("GetAs with the untyped codec", func(t *testing.T) {
		es := ftEngines(t, srv, rtChannel(t), 2, FillPolicy{})
		_, err := GetAs(ctx, es[0], "compat:1", load)
		require.NoError(t, err)
		_, err = GetAs(ctx, es[1], "compat:1", load)
		require.ErrorIs(t, err, ErrWrongType)
		assert.ErrorContains(t, err, "map[string]interface {}")
		assert.False(t, es[1].Cached("compat:1"), "the wrong-typed shared copy is not kept")
	})

	t.Run("Cache[V]", func(t *testing.T) {
		calls.Store(0)
		ch := rtChannel(t)
		var caches []*Cache[*poisonConfig]
		for range 2 {
			e := rtEngine(t, srv.Client(t), ch)
			c := newCache(t, e, "configs", load, WithFill(FillPolicy{}))
			require.NoError(t, c.WaitReady(ctx))
			caches = append(caches, c)
		}
		for _, c := range caches {
			v, err := c.Get(ctx, "compat:1")
			require.NoError(t, err)
			assert.Equal(t, &poisonConfig{Model: "deepseek"}, v)
			assert.True(t, c.Cached("compat:1"))
		}
		assert.EqualValues(t, 1, calls.Load(), "the second instance read the shared copy")
		assert.EqualValues(t, 1, caches[1].Stats().FillSharedHits)
	})
}

// A shared copy of another type (a custom codec that decodes otherwise)
// is refused by a typed cache: the instance loads locally and caches a V.
func TestCacheRefusesWrongTypedSharedCopy(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	ch := rtChannel(t)
	var calls atomic.Int32
	load := func(context.Context, string) (int, error) { calls.Add(1); return 7, nil }
	writer := newCache(t, rtEngine(t, srv.Client(t), ch), "n", load, WithFill(FillPolicy{}))
	// untypedJSON decodes 7 as a float64: not an int.
	reader := newCache(t, rtEngine(t, srv.Client(t), ch), "n", load, WithFill(FillPolicy{Codec: untypedJSON{}}))
	require.NoError(t, writer.WaitReady(ctx))
	require.NoError(t, reader.WaitReady(ctx))
	v, err := writer.Get(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, 7, v)
	v, err = reader.Get(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, 7, v)
	assert.EqualValues(t, 2, calls.Load(), "the reader loaded locally")
	assert.EqualValues(t, 1, reader.Stats().FillDegraded)
}

// untypedJSON is a custom codec that decodes into any, like JSONCodec.
type untypedJSON struct{ JSONCodec }

// A typed hit, Get or Peek, allocates nothing and never reaches the slot's
// actor, as an Engine.Get hit; a struct V is copied, not boxed again.
func TestCacheHitAllocatesNothing(t *testing.T) {
	type user struct {
		Name string
		Age  int
	}
	e := newEngine(t)
	c := newCache(t, e, "u", func(_ context.Context, id string) (user, error) { return user{Name: id, Age: 7}, nil })
	ctx := context.Background()
	_, err := c.Get(ctx, "k")
	require.NoError(t, err)
	misses := c.Stats().Misses
	allocs := testing.AllocsPerRun(1000, func() {
		if v, err := c.Get(ctx, "k"); err != nil || v.Name != "k" {
			panic("not a hit")
		}
		if v, ok := c.Peek("k"); !ok || v.Age != 7 {
			panic("not a hit")
		}
	})
	assert.Zero(t, allocs, "allocations per typed hit")
	assert.Equal(t, misses, c.Stats().Misses, "hits must not reach the slot actor")
}

// NewCache leaves the caller's options alone: callers may share one slice
// of options between caches, even with room to spare and concurrently.
func TestNewCacheKeepsCallersOptions(t *testing.T) {
	e := newEngine(t)
	opts := make([]Option, 1, 4)
	opts[0] = WithTTL(time.Minute)
	load := func(context.Context, string) (int, error) { return 1, nil }
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := NewCache(e, fmt.Sprint("c", i), load, opts...)
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	assert.Nil(t, opts[:2][1], "nothing was written past the caller's options")
}

// The control methods of a typed cache act on that cache alone, not on its
// engine or the engine's other caches.
func TestCacheControlMethodsActOnThatCacheAlone(t *testing.T) {
	e := newEngine(t)
	load := func(_ context.Context, id string) (string, error) { return id, nil }
	a, err := NewCache(e, "a", load)
	require.NoError(t, err)
	b, err := NewCache(e, "b", load)
	require.NoError(t, err)
	warm := func() {
		for _, c := range []*Cache[string]{a, b} {
			_, err := c.Get(context.Background(), "k")
			require.NoError(t, err)
		}
		_, err := e.Get(context.Background(), "k", identity)
		require.NoError(t, err)
	}

	warm()
	require.NoError(t, a.InvalidateAll(context.Background()))
	assert.False(t, a.Cached("k"))
	assert.True(t, b.Cached("k"), "InvalidateAll reached another cache")
	assert.True(t, e.Cached("k"), "InvalidateAll reached the engine")

	warm()
	a.Reset()
	assert.False(t, a.Cached("k"))
	assert.Zero(t, a.Stats().Hits+a.Stats().Misses, "Reset left counters")
	assert.True(t, b.Cached("k"))
	assert.NotZero(t, b.Stats().Misses, "Reset zeroed another cache's counters")

	ttl := b.TTL()
	require.NoError(t, a.SetTTL(ttl+time.Minute))
	assert.Equal(t, ttl+time.Minute, a.TTL())
	assert.Equal(t, ttl, b.TTL(), "SetTTL changed another cache")

	require.NoError(t, a.Close())
	_, err = a.Get(context.Background(), "k")
	assert.ErrorIs(t, err, ErrClosed)
	_, err = b.Get(context.Background(), "k")
	assert.NoError(t, err, "closing a cache closed another")
	_, err = e.Get(context.Background(), "k", identity)
	assert.NoError(t, err, "closing a cache closed its engine")
	again, err := NewCache(e, "a", load)
	require.NoError(t, err, "the name is free again")
	_, err = again.Get(context.Background(), "k")
	assert.NoError(t, err)
}
