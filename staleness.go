package slotcache

import "time"

// WithMaxStaleness bounds how stale a value served by an engine linked to
// Redis can be, whatever happens to Redis (default 3 s): a Get that starts
// more than d after an Invalidate returned on any instance never returns the
// value from before that invalidation. Zero leaves only the TTL as the
// bound, as without this option.
//
// The proof that nothing was missed is the self-echo heartbeat: an entry is
// served while less than d has passed since the later of its load and the
// last heartbeat whose echo came back. While the link to Redis is down or
// half-open, entries therefore live at most d after their load, which costs
// at most one load per slot per d (concurrent misses still share one load).
// d must be at least twice the heartbeat (WithHeartbeat), so that a healthy
// link never expires anything early. It assumes publishers and this engine
// use the same Redis primary: during a Sentinel failover with a split brain
// Redis itself loses writes, and so invalidations.
func WithMaxStaleness(d time.Duration) Option {
	return func(c *config) error {
		c.maxStaleness = d
		if d < 0 {
			return optionError("WithMaxStaleness", "must not be negative, got %v", d)
		}
		return nil
	}
}

// checkStaleness checks WithMaxStaleness against WithHeartbeat, once every
// option is applied. Without Redis there is nothing to bound.
func (c *config) checkStaleness() error {
	if c.maxStaleness == 0 || (c.redis == nil && c.redisURL == "") {
		return nil
	}
	if c.heartbeat == 0 {
		return optionError("WithMaxStaleness", "%v needs the heartbeat, which WithHeartbeat(0) disables; add WithMaxStaleness(0) to rely on the TTL alone", c.maxStaleness)
	}
	if c.maxStaleness < 2*c.heartbeat {
		return optionError("WithMaxStaleness", "%v must be at least twice WithHeartbeat(%v)", c.maxStaleness, c.heartbeat)
	}
	return nil
}

// enforcedStaleness is the bound the engine enforces: none without Redis.
func (c *config) enforcedStaleness() time.Duration {
	if c.redis == nil && c.redisURL == "" {
		return 0
	}
	return c.maxStaleness
}

// Watermark records that every invalidation published before sent has been
// applied here (see WithMaxStaleness).
func (r *remote) Watermark(sent time.Time) { r.env.Watermark(r.env.Clock.At(sent)) }
