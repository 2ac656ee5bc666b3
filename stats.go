package slotcache

// Stats is a snapshot of an engine's counters, for observability and tests.
// Counters are read one by one, so a snapshot taken under load is not
// atomic across fields.
type Stats struct {
	// Hits counts Gets served from a fresh entry without waiting.
	Hits uint64
	// Misses counts Gets that went to the slot actor (and usually waited
	// for a load).
	Misses uint64
	// Loads counts loader calls.
	Loads uint64
	// Coalesced counts misses that joined a load another caller started
	// instead of starting their own: the stampedes the engine absorbed.
	Coalesced uint64
	// Refreshes counts background reloads started by a behaviour
	// (refresh-ahead, stale-while-revalidate, reload on invalidation).
	Refreshes uint64
	// Uncached counts loaded values a behaviour chose not to cache.
	Uncached uint64
	// LoadErrors counts loads that failed: loader errors, panics and
	// timeouts.
	LoadErrors uint64
	// LoaderPanics counts loads whose loader panicked.
	LoaderPanics uint64
	// LoadTimeouts counts loads that ran past the load timeout.
	LoadTimeouts uint64
	// Invalidations counts calls of Invalidate and InvalidateAll here.
	Invalidations uint64
	// CrossProcessInvalidations counts invalidations received from other
	// instances and applied.
	CrossProcessInvalidations uint64
	// MalformedMessages counts channel messages ignored as malformed.
	MalformedMessages uint64
	// PublishErrors counts invalidations that could not be published.
	PublishErrors uint64
	// Subscriptions counts confirmed Redis subscriptions; each one after the
	// first is a resubscription after which the engine flushed its cache.
	Subscriptions uint64
	// HeartbeatMisses counts subscriptions found dead by the heartbeat.
	HeartbeatMisses uint64
	// SlotRestarts counts slot actors restarted by their supervisor.
	SlotRestarts uint64
}

// Stats returns a snapshot of the engine's counters.
func (e *Engine) Stats() Stats {
	s := &e.env.Stats
	st := Stats{
		Hits:          s.Hits.Load(),
		Misses:        s.Misses.Load(),
		Loads:         s.Loads.Load(),
		Coalesced:     s.Coalesced.Load(),
		Refreshes:     s.Refreshes.Load(),
		Uncached:      s.Uncached.Load(),
		LoadErrors:    s.LoadErrors.Load(),
		LoaderPanics:  s.LoaderPanics.Load(),
		LoadTimeouts:  s.LoadTimeouts.Load(),
		Invalidations: s.Invalidations.Load(),
		SlotRestarts:  s.SlotRestarts.Load(),
	}
	if e.bridge != nil {
		b := e.bridge.Stats()
		st.CrossProcessInvalidations = b.Applied
		st.MalformedMessages = b.Malformed
		st.PublishErrors = b.PublishErrors
		st.Subscriptions = b.Subscriptions
		st.HeartbeatMisses = b.HeartbeatMisses
	}
	return st
}
