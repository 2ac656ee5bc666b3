package fill

import (
	"sync/atomic"
	"time"
)

// Cool-down after a Redis error, doubling per consecutive error.
const (
	coolMin = 250 * time.Millisecond
	coolMax = 5 * time.Second
)

// breaker skips the shared tier for a while after a Redis error. Without
// it, every miss during an outage would pay the op timeout (or the
// client's dial retries) before degrading; with it, misses degrade at once
// and one miss per cool-down probes Redis again. Drop ignores it: an
// invalidation always tries to delete the shared copy.
type breaker struct {
	until atomic.Int64 // unix nanoseconds; skip the shared tier before it
	fails atomic.Int32 // consecutive errors
}

// open reports whether the shared tier is being skipped.
func (b *breaker) open() bool {
	return b.until.Load() != 0 && time.Now().UnixNano() < b.until.Load()
}

// failure records a Redis error and starts or extends the cool-down.
func (b *breaker) failure() {
	n := min(b.fails.Add(1), 16)
	cool := min(coolMin<<(n-1), coolMax)
	b.until.Store(time.Now().Add(cool).UnixNano())
}

// success records a working Redis.
func (b *breaker) success() {
	if b.fails.Load() != 0 {
		b.fails.Store(0)
		b.until.Store(0)
	}
}
