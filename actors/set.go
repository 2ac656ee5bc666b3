package actors

import "github.com/slotcache/slotcache/internal/core"

// Set asks a slot to cache Value at once (write-through after a write to
// the source). Like an invalidation it overtakes every load in flight:
// the slot bumps its generation, so no load that started before the Set
// is cached, then stores Value under the new generation for as long as
// the slot's behaviour decides. The router creates the slot if needed.
type Set struct {
	Value any
	// Done receives whether Value was cached (not, if the behaviour gives
	// it no lifetime or the size limit refuses it). Room for one.
	Done chan<- bool
}

// set handles a Set. Waiters of the overtaken loads still get those
// loads' values: they asked before the Set.
func (s *slot) set(m *Set) {
	s.h.Invalidate()
	s.h.Owned.Failures = 0
	e := core.EntryFor(m.Value, s.h.Gen(), s.env.Epoch(), s.env.Clock.Now(), s.decision(m.Value))
	if e == nil { // the behaviour's choice: counted as such
		s.env.Stats.Uncached.Add(1)
		s.env.Reclaim(s.h)
		m.Done <- false
		return
	}
	m.Done <- s.env.Store(s.h, e) // a refused admission counts as Rejected
}
