package core

import (
	"sync/atomic"
	"time"
)

// staleness bounds how long an entry may be served without proof that no
// invalidation of it was missed, whatever happens to Redis.
//
// The proof is the bridge's heartbeat: Redis delivers a connection's
// messages in the order it processed their PUBLISHes, so when the echo of a
// heartbeat sent at time w comes back, every invalidation published before
// w has been applied here. w is the watermark. An entry whose load started
// at l is served only while now - max(w, l) <= bound: an invalidation that
// returned on any instance at time t was either applied here (w > t: the
// entry's generation is stale) or is younger than the bound, or the entry
// was loaded after it (l > t: it holds the new value). While the channel is
// down the watermark stops and entries live at most bound after their load,
// so the source sees at most one load per slot per bound.
type staleness struct {
	bound     int64        // nanoseconds; 0 disables the check (TTL only)
	watermark atomic.Int64 // Clock nanoseconds; only grows
}

// SetMaxStaleness sets the bound (0: none). Call it before the engine
// serves anything; engines without Redis leave it at 0, since they have no
// other instance to miss.
func (env *Env) SetMaxStaleness(d time.Duration) { env.stale.bound = int64(d) }

// MaxStaleness is the bound set by SetMaxStaleness.
func (env *Env) MaxStaleness() time.Duration { return time.Duration(env.stale.bound) }

// Watermark records that every invalidation published before at (Clock
// nanoseconds) has been applied. Older watermarks are ignored.
func (env *Env) Watermark(at int64) {
	for {
		w := env.stale.watermark.Load()
		if at <= w || env.stale.watermark.CompareAndSwap(w, at) {
			return
		}
	}
}

// LastWatermark is the latest watermark, in Clock nanoseconds (0: none yet).
func (env *Env) LastWatermark() int64 { return env.stale.watermark.Load() }

// withinStaleness reports whether e may still be served under the bound. It
// is on the hit path, small enough to inline, so that an engine without the
// bound pays one compare; with it, two loads, a compare and, with the bound
// far enough away, only the coarse clock.
func (env *Env) withinStaleness(e *Entry) bool {
	return env.stale.bound == 0 || env.underBound(e)
}

func (env *Env) underBound(e *Entry) bool {
	d := env.stale.bound
	base := env.stale.watermark.Load()
	if e.Loaded > base {
		base = e.Loaded
	}
	return env.Clock.Before(base + d)
}

// Joinable reports whether a Get may still join a load that started at
// started (Clock nanoseconds) under the bound: a load older than the bound,
// with no watermark since, may hold a value from before an invalidation
// that never arrived, exactly like an entry loaded then.
func (env *Env) Joinable(started int64) bool {
	return env.stale.bound == 0 || env.Clock.Before(max(env.stale.watermark.Load(), started)+env.stale.bound)
}

// At converts a time.Time taken in this process (with its monotonic
// reading) to Clock nanoseconds.
func (c *Clock) At(t time.Time) int64 { return int64(t.Sub(c.base)) }
