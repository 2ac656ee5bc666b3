package slotcache

import (
	"context"
	"time"
)

// Cache is a typed cache: a named cache of an Engine bound to its value
// type V and its loader, so that call sites pass only a slot ID and get a V
// back. Make it with NewCache; it is safe for concurrent use.
//
// Ownership is in the types: the Engine owns the actor system, the clock
// and the Redis client and makes caches; a Cache owns only its slots and
// can neither make caches nor close its engine's resources. Closing the
// engine closes its caches.
//
// A Cache is a thin layer over the engine's machinery (like otter's
// cache.go over cache_impl.go): a hit is the same directory lookup and
// atomic loads as Engine.Get, plus one type assertion, and allocates
// nothing.
type Cache[V any] struct {
	e    *Engine // the named cache's machinery; never handed out
	load Loader  // the typed loader, boxed once at NewCache

	batch    BatchLoader[V] // nil without WithBatch
	maxBatch int
}

// NewCache returns the typed cache name of e, which loads missing values
// with load. Concurrent misses on a slot share one load call, as with Get.
// load may be nil if opts include WithBatch: single misses then go to the
// batch loader one ID at a time.
//
// The cache has its own TTL, size limit, behaviours, Stats and channel
// ("<e's channel>:<name>"), starting from e's TTL, timeouts, logger and
// Redis client; opts change any of it (behaviours, WithMaxSlots and
// WithFill are not inherited; another client only with WithRedis: FromEnv's
// Redis URLs and WithSentinel dial, which only New does). With WithFill, values travel through the
// shared tier as JSON of V (JSONOf[V]) unless FillPolicy.Codec names a
// codec of your own (JSONCodec, which decodes into any, is replaced too),
// so every instance gets a V back, whichever loaded it; a shared copy that
// decodes to another type is loaded locally instead of cached.
//
// Names are unique per engine while their cache is open.
func NewCache[V any](e *Engine, name string, load func(ctx context.Context, slotID string) (V, error), opts ...Option) (*Cache[V], error) {
	if e == nil {
		return nil, &OptionError{Option: "NewCache", Reason: "engine is nil"}
	}
	// Never append to opts in place: the caller's slice may have room.
	ie, err := e.named(name, append(opts[:len(opts):len(opts)], typedDefaults[V]()))
	if err != nil {
		return nil, err
	}
	c := &Cache[V]{e: ie, maxBatch: ie.cfg.typed.maxBatch}
	c.batch, _ = ie.cfg.typed.batch.(BatchLoader[V]) // checked by typedDefaults
	switch {
	case load != nil:
		c.load = func(ctx context.Context, id string) (any, error) {
			v, err := load(ctx, id)
			if err != nil {
				return nil, err
			}
			return v, nil
		}
	case c.batch != nil:
		c.load = c.loadOneByBatch
	default:
		_ = ie.Close()
		return nil, &OptionError{Option: "NewCache", Reason: "needs a loader, or WithBatch"}
	}
	return c, nil
}

// Get returns the value of slotID, loading it on a miss; concurrent misses
// share one load and a caller whose ctx ends gets ctx.Err() at once, as
// with Engine.Get. A cached nil (a batch loader's missing ID, see GetMany)
// is V's zero value.
func (c *Cache[V]) Get(ctx context.Context, slotID string) (V, error) {
	v, ok := c.e.hit(slotID)
	if !ok {
		var err error
		if v, err = c.e.miss(ctx, slotID, c.load); err != nil {
			var zero V
			return zero, err
		}
	}
	return typedValue[V](c.e, slotID, v)
}

// Peek returns the cached value of slotID if it holds a fresh one, without
// loading: for callers that would rather do without than wait. It counts as
// a hit when it finds one.
func (c *Cache[V]) Peek(slotID string) (V, bool) {
	v, ok := c.e.hit(slotID)
	if !ok {
		var zero V
		return zero, false
	}
	t, err := typedValue[V](c.e, slotID, v)
	return t, err == nil
}

// Invalidate drops slotID here and on every other instance; see
// Engine.Invalidate.
func (c *Cache[V]) Invalidate(ctx context.Context, slotID string) error {
	return c.e.Invalidate(ctx, slotID)
}

// InvalidateAll drops every slot of this cache here and on every other
// instance; see Engine.InvalidateAll.
func (c *Cache[V]) InvalidateAll(ctx context.Context) error { return c.e.InvalidateAll(ctx) }

// Cached reports whether slotID holds a fresh value (a Get would hit),
// without counting a hit.
func (c *Cache[V]) Cached(slotID string) bool { return c.e.Cached(slotID) }

// WaitReady blocks until the cache receives other instances'
// invalidations, or until ctx ends; see Engine.WaitReady.
func (c *Cache[V]) WaitReady(ctx context.Context) error { return c.e.WaitReady(ctx) }

// Stats returns a snapshot of this cache's counters.
func (c *Cache[V]) Stats() Stats { return c.e.Stats() }

// Reset drops every entry and zeroes the counters of this cache without
// telling other instances, for isolating test cases.
func (c *Cache[V]) Reset() { c.e.Reset() }

// SetTTL changes the TTL of values this cache loads from now on.
func (c *Cache[V]) SetTTL(d time.Duration) error { return c.e.SetTTL(d) }

// TTL returns the TTL of values this cache loads from now on.
func (c *Cache[V]) TTL() time.Duration { return c.e.TTL() }

// Name returns the name given to NewCache.
func (c *Cache[V]) Name() string { return c.e.name }

// Channel returns the pub/sub channel of this cache's invalidations.
func (c *Cache[V]) Channel() string { return c.e.Channel() }

// Close closes this cache alone: its slots, its subscription and its loads
// (their callers get ErrClosed). The engine and its other caches live on;
// the name is free again. Calls after the first do nothing.
func (c *Cache[V]) Close() error { return c.e.Close() }
