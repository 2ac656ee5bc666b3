package slotcache

import (
	"fmt"
	"time"
)

// Reset drops every cached entry and zeroes the counters without telling
// other instances: for isolating test cases, as the seed's __test.clear did.
func (e *Engine) Reset() {
	defer e.retireStats()() // Totals keep what Reset zeroes
	e.flushLocal()
	e.env.Stats.Reset()
	if e.sub != nil {
		e.sub.ResetStats()
	}
	if e.filler != nil {
		e.filler.ResetStats()
	}
}

// SetTTL changes the TTL of entries loaded from now on, so that tests can
// shrink it and operators can tune it without a restart. Entries already
// cached keep their deadline.
func (e *Engine) SetTTL(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("slotcache: SetTTL: TTL must be positive, got %v", d)
	}
	e.env.SetTTL(d)
	return nil
}

// TTL returns the TTL given to entries loaded from now on.
func (e *Engine) TTL() time.Duration { return e.env.TTL() }

// Cached reports whether slotID holds a fresh entry, that is whether a Get
// would be a hit. It does not count as a hit.
func (e *Engine) Cached(slotID string) bool {
	h, ok := e.dir.Load(slotID)
	return ok && !e.closed.Load() && e.env.Fresh(h) != nil
}

// Origin returns the instance ID this engine puts in its messages.
func (e *Engine) Origin() string { return e.cfg.origin }

// Channel returns the pub/sub channel this engine uses.
func (e *Engine) Channel() string { return e.cfg.channel }
