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
	env := NewEnv(t.Context(), nil, time.Minute, time.Second, nil)
	defer env.Clock.Stop()
	h := NewHandle("s")
	assert.Nil(t, env.Fresh(h))

	e := &Entry{Value: 1, Gen: h.Gen(), Epoch: env.Epoch(), Deadline: env.Clock.Now() + int64(time.Hour)}
	h.Publish(e)
	assert.Same(t, e, env.Fresh(h))

	h.Invalidate()
	assert.Nil(t, env.Fresh(h), "generation bumped")

	e = &Entry{Value: 2, Gen: h.Gen(), Epoch: env.Epoch(), Deadline: env.Clock.Now() + int64(time.Hour)}
	h.Publish(e)
	env.Flush()
	assert.Nil(t, env.Fresh(h), "epoch bumped")

	h.Publish(&Entry{Value: 3, Gen: h.Gen(), Epoch: env.Epoch(), Deadline: env.Clock.Now() - 1})
	assert.Nil(t, env.Fresh(h), "deadline passed, no timer involved")
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
