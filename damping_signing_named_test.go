package slotcache

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/internal/redistest"
)

// TestNamedCacheSignedStormDamped: a named cache with its own signing key
// and its own damping bound, on an engine that damps nothing and signs
// with another key. A flood of "*" unsigned or signed with the engine's
// key is refused on the cache's channel and never held; a storm signed
// with the cache's key is damped with the cache's bound (held, then
// flushed), and every message counts as applied once flushed.
func TestNamedCacheSignedStormDamped(t *testing.T) {
	srv := redistest.Start(t)
	e := rtEngine(t, srv.Client(t), rtChannel(t), WithSigningKey(sgKeyA), WithInvalidationDamping(0), WithMaxStaleness(3*time.Second))
	load := func(_ context.Context, id string) (string, error) { return id, nil }
	c := newCache(t, e, "orders", load, WithSigningKey(sgKeyB), WithInvalidationDamping(time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), rtWait)
	defer cancel()
	require.NoError(t, c.WaitReady(ctx))
	_, err := c.Get(ctx, "x")
	require.NoError(t, err)

	const flood = 200
	pub := srv.Client(t)
	publish := func(payload func(i int) string) {
		p := pub.Pipeline()
		for i := range flood {
			p.Publish(ctx, c.Channel(), payload(i))
		}
		_, err := p.Exec(ctx)
		require.NoError(t, err)
	}
	now := time.Now().UnixMilli()
	publish(func(int) string { return `{"slotId":"*","_origin":"storm"}` })
	publish(func(i int) string { return sgInvalidation(sgKeyA, c.Channel(), "*", now+int64(i)) })
	require.Eventually(t, func() bool {
		st := c.Stats()
		return st.RefusedUnsigned == flood && st.RefusedForged == flood
	}, rtWait, rtPoll)
	st := c.Stats()
	require.Zero(t, st.DampedInvalidations+st.DampFlushes+st.CrossProcessInvalidations, "refused messages reached the damper")
	require.True(t, c.Cached("x"), "a refused message flushed the cache")

	publish(func(i int) string { return sgInvalidation(sgKeyB, c.Channel(), "*", now+int64(i)) })
	require.Eventually(t, func() bool { return c.Stats().CrossProcessInvalidations == flood }, rtWait, rtPoll,
		"every signed invalidation applied, at once or by a flush")
	st = c.Stats()
	require.Equal(t, uint64(flood), st.RefusedUnsigned)
	require.Equal(t, uint64(flood), st.RefusedForged)
	require.Zero(t, st.RefusedReplayed+st.RefusedStale, "a genuine message was refused")
	require.NotZero(t, st.DampedInvalidations, "the cache's own bound did not damp the storm (the engine's is 0)")
	require.NotZero(t, st.DampFlushes)
	require.False(t, c.Cached("x"))
}
