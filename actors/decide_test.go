package actors

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/internal/core"
	"github.com/slotcache/slotcache/messages"
)

// loading is a slot of r loading for one waiter, whose answer comes on
// reply: the state every decision of this file starts from.
func (r *rig) loading(id string) (s *slot, h *core.Handle, c *fakeCtx, reply chan messages.Result) {
	s, h, _ = r.boundSlot(id)
	c = newFakeCtx()
	g, reply := get(r.block)
	c.deliver(s, g)
	return s, h, c, reply
}

// loading, fleet refresh-ahead: a shared copy handed over by a load that
// goes on to reload from the source is cached and answers the waiters at
// once; the load's own value replaces it when it lands.
func TestSlotServesHandedCopyWhileRefreshing(t *testing.T) {
	r := newRig(t, 0)
	r.policy.ttl = time.Hour
	s, h, c, reply := r.loading("s")
	id := s.current.id

	c.deliver(s, &servedCopy{flight: id, value: "old", remaining: time.Second})
	assert.Equal(t, "old", (<-reply).Value, "the waiter has the copy before the source answers")
	e := r.env.Fresh(h)
	require.NotNil(t, e)
	assert.Equal(t, "old", e.Value)
	assert.InDelta(t, int64(time.Second), e.Deadline-e.Loaded, float64(100*time.Millisecond), "capped at the copy's remaining life (Loaded is the load's start)")
	require.Same(t, s.current, s.flights[id], "the load goes on")

	c.deliver(s, done(s.flights[id], core.FillResult{Value: "new"}))
	e = r.env.Fresh(h)
	require.NotNil(t, e)
	assert.Equal(t, "new", e.Value)
	assert.InDelta(t, int64(time.Hour), e.Deadline-e.Loaded, float64(100*time.Millisecond))
}

// A copy handed over for a load that an invalidation overtook is dropped.
func TestSlotIgnoresHandedCopyOfOvertakenLoad(t *testing.T) {
	r := newRig(t, 0)
	s, h, c, _ := r.loading("s")
	h.Invalidate()
	c.deliver(s, &servedCopy{flight: s.current.id, value: "old", remaining: time.Second})
	assert.Nil(t, h.Entry())
}

// loading → active, commit rejected: the value answers the waiters and is
// not cached, without asking the behaviour, and it is not counted as a
// value the behaviour chose not to cache (Stats.Uncached): the coordinator
// counts it as a rejected commit.
func TestSlotRejectedCommitIsNoBehaviourChoice(t *testing.T) {
	r := newRig(t, 0)
	s, h, c, reply := r.loading("s")
	c.deliver(s, done(s.current, core.FillResult{Value: "v", Source: core.CommitRejected}))
	assert.Equal(t, "v", (<-reply).Value)
	assert.Nil(t, h.Entry())
	assert.Zero(t, r.policy.loaded.Load())
	assert.Zero(t, r.env.Stats.Uncached.Load())
}

// A local copy of a shared copy lives at most as long as the shared copy
// has left, and a refresh-ahead point moves with it in proportion, so that
// the copy is still refreshed before its shortened end. The stale window
// is local: kept.
func TestCapTimingToSharedCopy(t *testing.T) {
	t0 := core.Timing{TTL: time.Hour, RefreshAfter: 45 * time.Minute, StaleFor: time.Minute, SharedTTL: 2 * time.Hour}
	for _, tc := range []struct {
		name      string
		t         core.Timing
		remaining time.Duration
		want      core.Timing
	}{
		{"copy outlives the TTL", t0, 2 * time.Hour, t0},
		{"copy without a known life", t0, 0, t0},
		{"capped, refresh point in proportion", t0, time.Second,
			core.Timing{TTL: time.Second, RefreshAfter: 750 * time.Millisecond, StaleFor: time.Minute, SharedTTL: 2 * time.Hour}},
		{"capped, no refresh", core.Timing{TTL: time.Hour}, time.Second, core.Timing{TTL: time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, capTiming(tc.t, tc.remaining))
		})
	}
}
