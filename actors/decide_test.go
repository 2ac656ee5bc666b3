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
	s, h, _ := r.boundSlot("s")
	c := newFakeCtx()
	g, reply := get(r.block)
	c.deliver(s, g)
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
	s, h, _ := r.boundSlot("s")
	c := newFakeCtx()
	g, _ := get(r.block)
	c.deliver(s, g)
	h.Invalidate()
	c.deliver(s, &servedCopy{flight: s.current.id, value: "old", remaining: time.Second})
	assert.Nil(t, h.Entry())
}
