package slotcache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorder is a behaviour that remembers what it saw, to check what the
// behaviours before it in a Chain decided and which slots it was chosen for.
type recorder struct {
	Base
	mu        sync.Mutex
	decisions []Decision
	slots     []string
}

func (r *recorder) OnLoad(id string, _ any, d Decision) Decision {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.decisions = append(r.decisions, d)
	r.slots = append(r.slots, id)
	return d
}

func (r *recorder) seen() ([]Decision, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Decision(nil), r.decisions...), append([]string(nil), r.slots...)
}

func mustGet(t *testing.T, e *Engine, id string, load Loader) any {
	t.Helper()
	v, err := e.Get(context.Background(), id, load)
	require.NoError(t, err)
	return v
}

// token is a value that knows its own lifetime.
type token struct{ ttl time.Duration }

func TestTTLFromValue(t *testing.T) {
	e := newEngine(t, WithTTL(time.Hour), WithBehaviour(TTLFromValue(func(_ string, v any) (time.Duration, bool) {
		tok, ok := v.(token)
		return tok.ttl, ok
	})))
	var calls atomic.Int32
	mustGet(t, e, "short", constLoader(&calls, token{ttl: 20 * time.Millisecond}))
	mustGet(t, e, "long", constLoader(&calls, token{ttl: time.Hour}))
	mustGet(t, e, "plain", constLoader(&calls, "no ttl of its own"))
	require.Eventually(t, func() bool { return !e.Cached("short") }, wait, time.Millisecond)
	assert.True(t, e.Cached("long"))
	assert.True(t, e.Cached("plain"), "ok=false keeps the engine TTL")

	mustGet(t, e, "revoked", constLoader(&calls, token{ttl: 0}))
	assert.False(t, e.Cached("revoked"), "a zero TTL is not cached")
	assert.EqualValues(t, 1, e.Stats().Uncached)
}

func TestNegativeTTL(t *testing.T) {
	e := newEngine(t, WithTTL(time.Hour), WithBehaviour(NegativeTTL(20*time.Millisecond)))
	var calls atomic.Int32
	mustGet(t, e, "deleted", constLoader(&calls, nil))
	mustGet(t, e, "present", constLoader(&calls, "v"))
	assert.True(t, e.Cached("deleted"), "nil is cached, briefly")
	require.Eventually(t, func() bool { return !e.Cached("deleted") }, wait, time.Millisecond)
	assert.True(t, e.Cached("present"))
}

func TestJitterTTLSpreadsExpiries(t *testing.T) {
	rec := &recorder{}
	e := newEngine(t, WithTTL(time.Hour), WithBehaviour(Chain(JitterTTL(0.5), rec)))
	var calls atomic.Int32
	for i := range 100 {
		mustGet(t, e, fmt.Sprint("s", i), constLoader(&calls, i))
	}
	decisions, _ := rec.seen()
	require.Len(t, decisions, 100)
	distinct := map[time.Duration]bool{}
	for _, d := range decisions {
		assert.LessOrEqual(t, d.TTL, time.Hour)
		assert.Greater(t, d.TTL, 30*time.Minute)
		distinct[d.TTL] = true
	}
	assert.Greater(t, len(distinct), 90, "TTLs of slots loaded together must differ")
}

// Refresh-ahead: past the refresh point a hit returns the current value at
// hit speed and starts one background reload; its result replaces the old
// value without any caller waiting.
func TestRefreshAhead(t *testing.T) {
	e := newEngine(t, WithTTL(10*time.Second), WithBehaviour(RefreshAhead(0.002))) // refresh after 20 ms
	g := newGate(func(n int32) (any, error) { return n, nil })
	first := getAsync(context.Background(), e, "hot", g.load)
	g.awaitCall(t, 1)
	g.open()
	require.EqualValues(t, 1, await(t, first).v)

	// Hits past the refresh point start exactly one reload and keep
	// returning the current value meanwhile.
	require.Eventually(t, func() bool {
		assert.EqualValues(t, 1, mustGet(t, e, "hot", g.load))
		return e.Stats().Refreshes == 1
	}, wait, time.Millisecond)
	g.awaitCall(t, 2)
	for range 100 {
		assert.EqualValues(t, 1, mustGet(t, e, "hot", g.load), "no caller waits for the refresh")
	}
	assert.EqualValues(t, 1, e.Stats().Misses, "every Get after the first was a hit")
	assert.EqualValues(t, 2, g.calls.Load(), "one reload, however many hits")

	g.open()
	require.Eventually(t, func() bool { return mustGet(t, e, "hot", g.load) == int32(2) }, wait, time.Millisecond)
	assert.EqualValues(t, 1, e.Stats().Misses)
}

// An invalidation during a refresh wins: the refreshed value, loaded before
// it, is not cached.
func TestRefreshAheadLosesToInvalidation(t *testing.T) {
	e := newEngine(t, WithTTL(10*time.Second), WithBehaviour(RefreshAhead(0.002)))
	g := newGate(func(n int32) (any, error) { return n, nil })
	g.open()
	require.EqualValues(t, 1, mustGet(t, e, "hot", g.load))
	require.Eventually(t, func() bool {
		mustGet(t, e, "hot", g.load)
		return e.Stats().Refreshes == 1
	}, wait, time.Millisecond)
	g.awaitCall(t, 2) // the refresh is loading

	require.NoError(t, e.Invalidate(context.Background(), "hot"))
	g.open() // the refresh returns 2, from before the invalidation
	next := getAsync(context.Background(), e, "hot", g.load)
	g.awaitCall(t, 3)
	g.open()
	assert.EqualValues(t, 3, await(t, next).v)
	assert.EqualValues(t, 3, mustGet(t, e, "hot", g.load))
}

// Stale-while-revalidate: after expiry the stale value is served while one
// reload runs; if it fails the stale value is still served and a later hit
// retries; an invalidation is never served around.
func TestStaleWhileRevalidate(t *testing.T) {
	e := newEngine(t, WithTTL(20*time.Millisecond), WithBehaviour(StaleWhileRevalidate(time.Hour)))
	fail := errors.New("backend down")
	g := newGate(func(n int32) (any, error) {
		if n == 2 {
			return nil, fail
		}
		return n, nil
	})
	g.open()
	require.EqualValues(t, 1, mustGet(t, e, "s", g.load))

	// Expired: hits get the stale value and start one reload.
	require.Eventually(t, func() bool {
		require.EqualValues(t, 1, mustGet(t, e, "s", g.load))
		return e.Stats().Refreshes == 1
	}, wait, time.Millisecond)
	g.awaitCall(t, 2)
	assert.EqualValues(t, 1, mustGet(t, e, "s", g.load), "nobody waits for the reload")

	g.open() // reload 2 fails: stale-if-error
	require.Eventually(t, func() bool { return e.Stats().LoadErrors == 1 }, wait, time.Millisecond)
	// Hits keep getting the stale value; one of them retries once the
	// backoff (a sixteenth of the TTL after one failure) is over.
	require.Eventually(t, func() bool {
		require.EqualValues(t, 1, mustGet(t, e, "s", g.load), "still stale, within the bound")
		return g.calls.Load() == 3
	}, wait, time.Millisecond)
	g.open()
	require.Eventually(t, func() bool { return mustGet(t, e, "s", g.load) == int32(3) }, wait, time.Millisecond)
	assert.EqualValues(t, 1, e.Stats().Misses, "no Get ever waited after the first")

	// An invalidated value is not served stale.
	require.NoError(t, e.Invalidate(context.Background(), "s"))
	next := getAsync(context.Background(), e, "s", g.load)
	g.awaitCall(t, 4)
	g.open()
	assert.EqualValues(t, 4, await(t, next).v)
}

// The stale bound is never exceeded: past TTL + window, Get waits for a
// load and returns its error.
func TestStaleWindowIsBounded(t *testing.T) {
	e := newEngine(t, WithTTL(10*time.Millisecond), WithBehaviour(StaleWhileRevalidate(30*time.Millisecond)))
	var calls atomic.Int32
	load := workingOnce(&calls)
	require.Equal(t, "v", mustGet(t, e, "s", load))
	require.Eventually(t, func() bool { return !e.Cached("s") }, wait, time.Millisecond)
	_, err := e.Get(context.Background(), "s", load)
	require.ErrorIs(t, err, errBackendDown, "past the window the error is returned")
}

// errBackendDown is what workingOnce's loader fails with.
var errBackendDown = errors.New("backend down")

// workingOnce returns a loader that loads "v" on its first call, counted in
// calls, and fails with errBackendDown on every later one: a source that
// goes down after the first load.
func workingOnce(calls *atomic.Int32) Loader {
	return func(context.Context, string) (any, error) {
		if calls.Add(1) == 1 {
			return "v", nil
		}
		return nil, errBackendDown
	}
}

// OnError returning false stops stale serving: after a failed reload the
// value is not served past its TTL.
func TestOnErrorCanRefuseStale(t *testing.T) {
	e := newEngine(t, WithTTL(20*time.Millisecond), WithBehaviour(Chain(StaleWhileRevalidate(time.Hour), refuseStale{})))
	fail := errors.New("slot deleted")
	g := newGate(func(n int32) (any, error) {
		if n == 1 {
			return "v", nil
		}
		return nil, fail
	})
	g.open()
	require.Equal(t, "v", mustGet(t, e, "s", g.load))
	require.Eventually(t, func() bool {
		mustGet(t, e, "s", g.load)
		return e.Stats().Refreshes == 1
	}, wait, time.Millisecond)
	g.open()
	require.Eventually(t, func() bool { return !e.Cached("s") }, wait, time.Millisecond)
	g.open()
	_, err := e.Get(context.Background(), "s", g.load)
	require.ErrorIs(t, err, fail)
}

type refuseStale struct{ Base }

func (refuseStale) OnError(string, error) bool { return false }

type eagerReload struct{ Base }

func (eagerReload) OnInvalidate(string) bool { return true }

func TestOnInvalidateReloadsInBackground(t *testing.T) {
	e := newEngine(t, WithPrefixBehaviour("warm:", eagerReload{}))
	var calls atomic.Int32
	mustGet(t, e, "warm:a", constLoader(&calls, "v"))
	mustGet(t, e, "cold:a", constLoader(&calls, "v"))
	require.NoError(t, e.Invalidate(context.Background(), "warm:a"))
	require.NoError(t, e.Invalidate(context.Background(), "cold:a"))
	require.Eventually(t, func() bool { return e.Cached("warm:a") }, wait, time.Millisecond)
	assert.False(t, e.Cached("cold:a"))
	assert.EqualValues(t, 3, calls.Load())
}

func TestPrefixBehaviourLongestWins(t *testing.T) {
	def, compat, compatDeep, user := &recorder{}, &recorder{}, &recorder{}, &recorder{}
	e := newEngine(t,
		WithBehaviour(def),
		WithPrefixBehaviour("compat:", compat),
		WithPrefixBehaviour("user:", user),
		WithPrefixBehaviour("compat:deep", compatDeep),
	)
	var calls atomic.Int32
	for _, id := range []string{"compat:openai", "compat:deepseek", "user:1", "other"} {
		mustGet(t, e, id, constLoader(&calls, id))
	}
	_, got := compat.seen()
	assert.Equal(t, []string{"compat:openai"}, got)
	_, got = compatDeep.seen()
	assert.Equal(t, []string{"compat:deepseek"}, got)
	_, got = user.seen()
	assert.Equal(t, []string{"user:1"}, got)
	_, got = def.seen()
	assert.Equal(t, []string{"other"}, got)
}

type panickyHook struct{ Base }

func (panickyHook) OnLoad(string, any, Decision) Decision { panic("hook bug") }

func TestPanickingHookFallsBackToDefault(t *testing.T) {
	e := newEngine(t, WithBehaviour(panickyHook{}))
	var calls atomic.Int32
	assert.Equal(t, "v", mustGet(t, e, "s", constLoader(&calls, "v")))
	assert.True(t, e.Cached("s"), "the default decision caches with the engine TTL")
}

func TestBehaviourValidation(t *testing.T) {
	cases := map[string]Option{
		"RefreshAhead":         WithBehaviour(RefreshAhead(1.5)),
		"JitterTTL":            WithBehaviour(JitterTTL(0)),
		"NegativeTTL":          WithPrefixBehaviour("x:", NegativeTTL(0)),
		"StaleWhileRevalidate": WithBehaviour(Chain(Base{}, StaleWhileRevalidate(-1))),
		"TTLFromValue":         WithBehaviour(TTLFromValue(nil)),
		"WithPrefixBehaviour":  WithPrefixBehaviour("", Base{}),
		"WithBehaviour":        WithBehaviour(nil),
	}
	for name, opt := range cases {
		_, err := New(opt)
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), name)
	}
}
