package slotcache

import "github.com/slotcache/slotcache/bridge"

// coherenceStats fills the Stats fields about invalidations that Redis did
// not take at once (the outbox).
func coherenceStats(st *Stats, b bridge.Stats) {
	st.OutboxQueued = b.Queued
	st.OutboxRetried = b.Retried
	st.OutboxDropped = b.Dropped
	st.OutboxSize = b.OutboxSize
}
