package core

import "sync/atomic"

// Stats are the engine's local counters (the bridge keeps its own). Hits
// is striped because every hit increments it; the rest count slow-path
// events and are plain atomics.
type Stats struct {
	Hits          *Counter
	Misses        atomic.Uint64
	Loads         atomic.Uint64
	Coalesced     atomic.Uint64
	Refreshes     atomic.Uint64
	Uncached      atomic.Uint64
	LoadErrors    atomic.Uint64
	LoaderPanics  atomic.Uint64
	LoadTimeouts  atomic.Uint64
	Invalidations atomic.Uint64
	SlotRestarts  atomic.Uint64
	Rejected      atomic.Uint64
	Passivations  atomic.Uint64
	// Actors is the number of slot actors bound right now (a gauge).
	Actors atomic.Int64

	EvictedSize        atomic.Uint64
	EvictedExpired     atomic.Uint64
	EvictedInvalidated atomic.Uint64
}

// Reset zeroes every counter.
func (s *Stats) Reset() {
	s.Hits.Reset()
	for _, c := range []*atomic.Uint64{
		&s.Misses, &s.Loads, &s.Coalesced, &s.Refreshes, &s.Uncached, &s.LoadErrors, &s.LoaderPanics, &s.LoadTimeouts,
		&s.Invalidations, &s.SlotRestarts, &s.Rejected, &s.Passivations,
		&s.EvictedSize, &s.EvictedExpired, &s.EvictedInvalidated,
	} {
		c.Store(0)
	}
}
