package slotcache

// coherenceStats fills the Stats fields about invalidations that Redis did
// not take at once (the outbox).
func (e *Engine) coherenceStats(st *Stats) {
	if e.sub == nil {
		return
	}
	b := e.sub.Stats()
	st.OutboxQueued = b.Queued
	st.OutboxRetried = b.Retried
	st.OutboxDropped = b.Dropped
	st.OutboxSize = b.OutboxSize
}
