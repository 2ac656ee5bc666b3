package core

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestStalenessBound checks the rule an entry is served by under the bound:
// now - max(watermark, load start) <= bound, whatever its TTL, and the same
// rule for joining a load in flight; no bound serves by the TTL alone.
func TestStalenessBound(t *testing.T) {
	dir, _ := NewDirectory()
	env := NewEnv(EnvConfig{Ctx: t.Context(), Clock: NewClock(), TTL: time.Hour, LoadTimeout: time.Second}, dir)
	defer env.Clock.Stop()
	h := NewHandle("s", nil)
	hour := Timing{TTL: time.Hour}
	bound := 100 * time.Millisecond
	// Load times are never before the clock's start (its zero, which is
	// also where the watermark starts): let it run for three bounds.
	for env.Clock.Now() < int64(3*bound) {
		time.Sleep(bound)
	}
	now := env.Clock.Now()
	old := now - int64(2*bound) // loaded two bounds ago, TTL not reached

	e := EntryFor(1, h.Gen(), env.Epoch(), now, hour)
	e.Loaded = old
	env.Store(h, e)
	assert.Same(t, e, env.Fresh(h), "no bound: the TTL decides")
	assert.True(t, env.Joinable(old))

	env.SetMaxStaleness(bound)
	assert.Nil(t, env.Fresh(h), "loaded longer ago than the bound, no watermark since")
	assert.False(t, env.Joinable(old))

	env.Watermark(env.Clock.Now())
	now = env.LastWatermark()
	assert.Same(t, e, env.Fresh(h), "a recent watermark proves nothing was missed")
	assert.True(t, env.Joinable(old))

	env.Watermark(old) // an older watermark never moves it back
	assert.Equal(t, now, env.LastWatermark())

	fresh := EntryFor(2, h.Gen(), env.Epoch(), now, hour)
	fresh.Loaded = env.Clock.Now()
	env.Store(h, fresh)
	env.stale.watermark.Store(0)
	assert.Same(t, fresh, env.Fresh(h), "loaded within the bound: served without a watermark")
}
