package slotcache

import (
	"time"

	"github.com/slotcache/slotcache/bridge"
)

// DefaultInvalidationDamping is the default bound of
// WithInvalidationDamping, lowered to the heartbeat (WithHeartbeat) when
// that is shorter: the interval at which the watermark proves freshness
// anyway, and long enough that a flood of "*" reloads the working set
// about once a second instead of once per message (BENCHMARKS.md,
// "Invalidation storms").
const DefaultInvalidationDamping = time.Second

// dampingDefault marks a config whose damping was not set: the engine
// uses DefaultInvalidationDamping, or the heartbeat if shorter.
const dampingDefault time.Duration = -1

// WithInvalidationDamping bounds how long a storm of invalidations from
// other instances can delay one (default 1 s, or the heartbeat if
// shorter), so that a flood, a hostile client publishing "*" in a loop or
// a deploy looping on InvalidateAll, cannot turn the cache into an
// amplifier of source load.
//
// An invalidation of a slot, or of every slot, is applied at once unless
// the same (or every slot) was applied in the current window; then it is
// held, and one flush at the window's end applies everything held,
// coalesced ("*" superseding single slots). A window lasts 5 ms (or d if
// shorter), except while invalidations of every slot keep coming: each
// flush of one doubles the next window, up to d. So a slot is applied at
// most twice per window however many messages name it, a held
// invalidation waits at most 5 ms outside a storm of "*" and at most d in
// one, and the heartbeat's watermark waits for the flush, so that
// WithMaxStaleness still holds. Confirmed invalidations are answered only
// once applied. This engine's own Invalidate is never damped, nor are fill
// notices. Zero applies every invalidation at once.
//
// d must be below WithMaxStaleness (when that is on). A named cache
// (NewCache) starts from its engine's bound, and damps with its own if
// given this option, even on its engine's Redis connection.
func WithInvalidationDamping(d time.Duration) Option {
	return func(c *config) error {
		c.damping, c.dampingEnv = d, false
		if d < 0 {
			return optionError("WithInvalidationDamping", "must not be negative, got %v", d)
		}
		return nil
	}
}

// checkDamping checks WithInvalidationDamping against WithMaxStaleness,
// once every option is applied: a bound as long as the staleness bound
// would let damping alone use it up. Without Redis nothing is damped.
func (c *config) checkDamping() error {
	if c.damping <= 0 || c.maxStaleness == 0 || (c.redis == nil && c.redisURL == "") {
		return nil
	}
	if c.damping >= c.maxStaleness {
		if c.dampingEnv {
			return optionError("FromEnv", "%s: %v must be below WithMaxStaleness(%v)", dampingEnvVar, c.damping, c.maxStaleness)
		}
		return optionError("WithInvalidationDamping", "%v must be below WithMaxStaleness(%v)", c.damping, c.maxStaleness)
	}
	return nil
}

// dampingBound is the bound the bridge applies: the default one follows
// the heartbeat, which WithMaxStaleness is at least twice, so that it is
// always below the staleness bound.
func (c *config) dampingBound() time.Duration {
	if c.damping != dampingDefault {
		return c.damping
	}
	if c.heartbeat > 0 {
		return min(DefaultInvalidationDamping, c.heartbeat)
	}
	return DefaultInvalidationDamping
}

// dampingStats fills the Stats fields about damped invalidations.
func dampingStats(st *Stats, b bridge.Stats) {
	st.DampedInvalidations = b.Damped
	st.DampFlushes = b.DampFlushes
	st.DampFoldedToAll = b.DampFolded
	st.DampMaxDelay = b.DampMaxDelay
}
