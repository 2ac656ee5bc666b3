package slotcache

import (
	"context"
	"errors"

	"github.com/slotcache/slotcache/actors"
)

// Set caches v as slotID's value at once, for write-through after a write
// to the source: it overtakes any load in flight (that load's value is
// not cached, like after Invalidate), drops the shared copy if the cache
// uses WithFill, and tells the other instances to drop theirs, so that
// they load the new value from the source on their next Get. v's lifetime
// is decided as a loaded value's is: the slot's behaviour runs OnLoad on
// it. When Set returns, a Get or Peek on this instance returns v, unless a
// later invalidation or Set overtook it, the behaviour gives v no
// lifetime, or the size limit (WithMaxSlots) did not admit it over hotter
// slots; the old value is gone in every case.
//
// Like Invalidate, it fails only if dropping the shared copy or the
// publish failed, or ctx ended while the slot stored v; v is stored here
// regardless.
func (c *Cache[V]) Set(ctx context.Context, slotID string, v V) error {
	return c.e.set(ctx, slotID, v)
}

// set is Set for any value: readers miss at once, the shared copy goes
// and other instances are told, then the slot's actor stores v under a new
// generation, which overtakes any load that started meanwhile.
func (e *Engine) set(ctx context.Context, slotID string, v any) error {
	if e.closed.Load() {
		return ErrClosed
	}
	e.env.Stats.Invalidations.Add(1)
	if h, ok := e.dir.Load(slotID); ok {
		h.Invalidate()
	}
	// The shared copy goes and the other instances are told before the
	// store: none of them, and no load here, can bring the old value back
	// after it (what Redis does not take in time is queued, see outbox.go).
	errs := []error{e.broadcast(ctx, slotID)}
	done := make(chan bool, 1)
	e.send(slotID, &actors.Set{Value: v, Done: done})
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, ctx.Err())
	case <-e.env.Ctx.Done():
		return ErrClosed
	}
	return errors.Join(errs...)
}
