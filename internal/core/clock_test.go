package core

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Before is exact near a deadline: it never trusts the coarse clock within
// ClockSlack of it.
func TestClockBeforeIsExactNearDeadline(t *testing.T) {
	c := NewClock()
	defer c.Stop()
	now := c.Now()
	assert.False(t, c.Before(now), "a deadline that has passed")
	assert.True(t, c.Before(now+int64(time.Hour)))
	// Just ahead of now and well inside the slack: only the precise clock
	// can tell, and it must say "before" until the deadline passes.
	deadline := c.Now() + int64(5*time.Millisecond)
	require.Eventually(t, func() bool { return !c.Before(deadline) }, 10*time.Second, time.Millisecond)
	assert.GreaterOrEqual(t, c.Now(), deadline)
}

func TestClockCoarseAdvances(t *testing.T) {
	c := NewClock()
	start := c.coarse.Load()
	require.Eventually(t, func() bool { return c.coarse.Load() > start }, 10*time.Second, time.Millisecond)
	c.Stop()
	c.Stop() // idempotent
}

// Fresh rejects an entry of another generation or epoch, and an expired
// one, whatever the slot actor has or has not done yet.
func TestEnvFresh(t *testing.T) {
	dir, _ := NewDirectory()
	env := NewEnv(EnvConfig{Ctx: t.Context(), Clock: NewClock(), TTL: time.Minute, LoadTimeout: time.Second}, dir)
	defer env.Clock.Stop()
	h := NewHandle("s", nil)
	assert.Nil(t, env.Fresh(h))

	hour := Timing{TTL: time.Hour}
	e := EntryFor(1, h.Gen(), env.Epoch(), env.Clock.Now(), hour)
	env.Store(h, e)
	assert.Same(t, e, env.Fresh(h))

	h.Invalidate()
	assert.Nil(t, env.Fresh(h), "generation bumped")

	env.Store(h, EntryFor(2, h.Gen(), env.Epoch(), env.Clock.Now(), hour))
	env.Flush()
	assert.Nil(t, env.Fresh(h), "epoch bumped")

	env.Store(h, EntryFor(3, h.Gen(), env.Epoch(), env.Clock.Now()-int64(time.Hour), hour))
	assert.Nil(t, env.Fresh(h), "deadline passed, no timer involved")
	assert.Nil(t, EntryFor(4, 0, 0, 0, Timing{}), "a zero TTL is not cached")
}

// Lookup serves an entry past its refresh point and in its stale window,
// flagging it late, and never past StaleUntil.
func TestEnvLookupWindows(t *testing.T) {
	dir, _ := NewDirectory()
	env := NewEnv(EnvConfig{Ctx: t.Context(), Clock: NewClock(), TTL: time.Minute, LoadTimeout: time.Second}, dir)
	defer env.Clock.Stop()
	h := NewHandle("s", nil)
	now := env.Clock.Now()

	env.Store(h, EntryFor(1, 0, 0, now, Timing{TTL: time.Hour, RefreshAfter: time.Minute}))
	e, late := env.Lookup(h)
	require.NotNil(t, e)
	assert.False(t, late, "before the refresh point")

	env.Store(h, EntryFor(1, 0, 0, now-int64(2*time.Minute), Timing{TTL: time.Hour, RefreshAfter: time.Minute}))
	e, late = env.Lookup(h)
	require.NotNil(t, e)
	assert.True(t, late, "past the refresh point, still fresh")
	assert.True(t, e.RequestRefresh(now))
	assert.False(t, e.RequestRefresh(now), "one refresh request per entry")
	e.RefreshFailed(now + int64(time.Second))
	assert.False(t, e.RequestRefresh(now), "no new request before the backoff ends")
	assert.True(t, e.RequestRefresh(now+int64(time.Second)))

	env.Store(h, EntryFor(1, 0, 0, now-int64(2*time.Hour), Timing{TTL: time.Hour, StaleFor: 2 * time.Hour}))
	e, late = env.Lookup(h)
	require.NotNil(t, e)
	assert.True(t, late, "stale, inside the window")

	env.Store(h, EntryFor(1, 0, 0, now-int64(4*time.Hour), Timing{TTL: time.Hour, StaleFor: 2 * time.Hour}))
	e, _ = env.Lookup(h)
	assert.Nil(t, e, "past the stale window")
}

func TestCounter(t *testing.T) {
	c := NewCounter()
	for range 1000 {
		c.Inc()
	}
	assert.EqualValues(t, 1000, c.Load())
	c.Reset()
	assert.Zero(t, c.Load())
}
