package actors

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/internal/core"
)

// loading, fleet refresh-ahead: a shared copy handed over by a load that
// goes on to reload from the source is cached and answers the waiters at
// once; the load's own value replaces it when it lands.
func TestSlotServesHandedCopyWhileRefreshing(t *testing.T) {
	r := newRig(t, 0)
	r.policy.ttl = time.Hour
	s, h, _, c, reply := r.loading("s")
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
	s, h, _, c, _ := r.loading("s")
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
	s, h, _, c, reply := r.loading("s")
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

// loading: a fill leader's question runs the behaviour once; the load's
// completion uses that decision instead of running it again.
func TestSlotDecidesOncePerFillLeaderLoad(t *testing.T) {
	r := newRig(t, 0)
	r.policy.ttl = time.Minute
	s, h, _, c, _ := r.loading("s")
	id := s.current.id

	q := &shareDecision{flight: id, value: "v", reply: make(chan core.Share, 1)}
	c.deliver(s, q)
	assert.Equal(t, time.Minute, (<-q.reply).TTL)
	c.deliver(s, done(s.flights[id], core.FillResult{Value: "v", Source: core.LoadedHere}))
	assert.EqualValues(t, 1, r.policy.loaded.Load(), "OnLoad once per load")
	e := r.env.Fresh(h)
	require.NotNil(t, e)
	assert.InDelta(t, int64(time.Minute), e.Deadline-e.Loaded, float64(time.Second), "from the load's start")
}

// loading: an invalidation that overtook the load refuses to share it.
func TestSlotRefusesToShareOvertakenLoad(t *testing.T) {
	r := newRig(t, 0)
	s, h, _, c, _ := r.loading("s")
	h.Invalidate()
	q := &shareDecision{flight: s.current.id, value: "v", reply: make(chan core.Share, 1)}
	c.deliver(s, q)
	assert.Zero(t, <-q.reply)
	assert.Zero(t, r.policy.loaded.Load())
}

// The one caching decision: a rejected commit is never cached whatever the
// behaviour says; a shared copy lives here at most as long as it has left.
func TestSlotCachingDecision(t *testing.T) {
	for _, tc := range []struct {
		name  string
		res   core.FillResult
		ttl   time.Duration // behaviour's TTL
		want  time.Duration // cached lifetime, 0 for not cached
		hooks int32
	}{
		{"rejected commit", core.FillResult{Value: "v", Source: core.CommitRejected}, time.Hour, 0, 0},
		{"shared copy capped", core.FillResult{Value: "v", Source: core.SharedCopy, Remaining: time.Second}, time.Hour, time.Second, 1},
		{"shared copy shorter behaviour", core.FillResult{Value: "v", Source: core.SharedCopy, Remaining: time.Hour}, time.Minute, time.Minute, 1},
		{"loaded here", core.FillResult{Value: "v"}, time.Minute, time.Minute, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, 0)
			r.policy.ttl = tc.ttl
			s, h, _, c, reply := r.loading("s")
			c.deliver(s, done(s.current, tc.res))
			assert.Equal(t, "v", (<-reply).Value, "the waiters get the value either way")
			assert.Equal(t, tc.hooks, r.policy.loaded.Load())
			e := h.Entry()
			if tc.want == 0 {
				assert.Nil(t, e)
				return
			}
			require.NotNil(t, e)
			assert.InDelta(t, int64(tc.want), e.Deadline-e.Loaded, float64(100*time.Millisecond), "from the load's start")
		})
	}
}

// A shared copy's remaining life was read in Redis at some point during
// the load; the local copy must end no later than the shared one even
// when the result reaches the slot late (a stall, a slow delivery): the
// cap counts from the load's start, which is before that reading.
func TestSharedCopyCapCountsFromTheLoadsStart(t *testing.T) {
	r := newRig(t, 0)
	r.policy.ttl = time.Hour
	s, h, _, c, _ := r.loading("s")
	f := s.current
	f.started -= int64(2 * time.Second) // the result reaches the slot 2 s after the load started
	c.deliver(s, done(f, core.FillResult{Value: "v", Source: core.SharedCopy, Remaining: 3 * time.Second}))
	e := h.Entry()
	require.NotNil(t, e)
	assert.LessOrEqual(t, e.Deadline, f.started+int64(3*time.Second), "the local copy outlives the shared one")

	// A copy whose whole remaining life went by before the result arrived
	// is served to its waiters but not cached.
	s, h, _, c, reply := r.loading("t")
	f = s.current
	f.started -= int64(2 * time.Second)
	c.deliver(s, done(f, core.FillResult{Value: "v", Source: core.SharedCopy, Remaining: time.Second}))
	assert.Equal(t, "v", (<-reply).Value)
	assert.Nil(t, h.Entry(), "a copy past its end was cached")
}
