package main

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/dgraph-io/ristretto/v2"
	"github.com/maypok86/otter/v2"
	"golang.org/x/sync/singleflight"

	"github.com/slotcache/slotcache"
)

// Loader is the read-through loader every contender is given: it returns
// the value of key from the "database".
type Loader func(ctx context.Context, key string) (string, error)

// Cache is what the scenarios drive: a read-through cache of strings. Get
// returns the cached value of key or loads it with the loader the cache
// was built with; Invalidate drops key (and, for the Redis-backed ones,
// tells the other instances or deletes the shared copy).
type Cache interface {
	Get(ctx context.Context, key string) (string, error)
	Invalidate(ctx context.Context, key string) error
	Close()
}

// spec is what a contender is built for.
type spec struct {
	// Size is the capacity the cache should have: bounded caches (slotcache
	// included, see slotcacheSizeOptions) get this maximum number of
	// entries.
	Size int
	// Load is the loader.
	Load Loader
	// TTL is the time to live of entries, for the caches that have one.
	TTL time.Duration
}

// contender names a cache and builds it. Redis is set for contenders that
// need a Redis server.
type contender struct {
	Name  string
	Redis bool
	New   func(h *harness, s spec) (Cache, error)
}

// localContenders are the in-process caches.
var localContenders = []contender{
	{Name: "slotcache", New: newSlotcache},
	{Name: "otter", New: newOtter},
	{Name: "ristretto", New: newRistretto},
	{Name: "syncmap+singleflight", New: newSyncMap},
}

// otterNoTTL is otter without expiry.
var otterNoTTL = contender{Name: "otter (no TTL)", New: newOtterNoTTL}

// redisContenders are the caches that keep a local copy in front of Redis,
// slotcache included with its pub/sub invalidation.
var redisContenders = []contender{
	{Name: "slotcache+redis", Redis: true, New: newSlotcacheRedis},
	{Name: "go-redis/cache", Redis: true, New: newGoRedisCache},
	{Name: "rueidis", Redis: true, New: newRueidis},
}

// slotcacheSizeOptions returns the options that bound a slotcache engine to
// size slots, and whether the engine can be bounded at all: WithMaxSlots,
// frequency-based admission and sampled eviction, like the peers' size
// bounds. Every scenario builds slotcache with it, at the size its peers
// get (2× the keys where nothing should be evicted).
func slotcacheSizeOptions(size int) ([]slotcache.Option, bool) {
	return []slotcache.Option{slotcache.WithMaxSlots(size)}, true
}

// slotcacheBounded reports whether slotcache runs at a fixed size.
func slotcacheBounded() bool {
	_, ok := slotcacheSizeOptions(1)
	return ok
}

// slotcacheAdapter drives an engine through the typed helper, as an
// application would.
type slotcacheAdapter struct {
	e    *slotcache.Engine
	load func(context.Context, string) (string, error)
}

func newSlotcache(_ *harness, s spec) (Cache, error) {
	return newSlotcacheWith(s)
}

func newSlotcacheWith(s spec, opts ...slotcache.Option) (*slotcacheAdapter, error) {
	sizeOpts, _ := slotcacheSizeOptions(s.Size)
	e, err := slotcache.New(append(append([]slotcache.Option{slotcache.WithTTL(s.TTL)}, sizeOpts...), opts...)...)
	if err != nil {
		return nil, err
	}
	return &slotcacheAdapter{e: e, load: s.Load}, nil
}

func (a *slotcacheAdapter) Get(ctx context.Context, key string) (string, error) {
	return slotcache.GetAs(ctx, a.e, key, a.load)
}

func (a *slotcacheAdapter) Invalidate(ctx context.Context, key string) error {
	return a.e.Invalidate(ctx, key)
}

func (a *slotcacheAdapter) Close() { _ = a.e.Close() }

// Wait lets the slot actors of the loads so far passivate: an idle slot
// keeps its entry but no actor, so the memory case measures a cache at
// rest and the hit cases start with no actor running, as in production
// once a burst of misses is over. It returns when every load's actor has
// stopped (an actor serves at least one load), when the count of
// passivations stops moving for 50 ms, or after 5 s.
func (a *slotcacheAdapter) Wait() {
	deadline := time.Now().Add(5 * time.Second)
	last, still := uint64(0), time.Now()
	for time.Now().Before(deadline) {
		s := a.e.Stats()
		if s.Passivations >= s.Loads {
			return
		}
		if s.Passivations != last {
			last, still = s.Passivations, time.Now()
		} else if time.Since(still) > 50*time.Millisecond {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// Slots is the number of slots holding an entry: the hit-ratio case shows
// it to prove the bound holds.
func (a *slotcacheAdapter) Slots() int { return int(a.e.Stats().Slots) }

// otterAdapter is otter v2 with a size bound and an expire-after-write TTL,
// read through its own loading Get (which coalesces concurrent misses).
type otterAdapter struct {
	c    *otter.Cache[string, string]
	load otter.Loader[string, string]
}

func newOtter(_ *harness, s spec) (Cache, error) {
	return newOtterWith(&otter.Options[string, string]{
		MaximumSize:      s.Size,
		ExpiryCalculator: otter.ExpiryWriting[string, string](s.TTL),
	}, s)
}

// newOtterNoTTL is otter without expiry, its fastest configuration, shown
// in the hit cases: slotcache always has a TTL.
func newOtterNoTTL(_ *harness, s spec) (Cache, error) {
	return newOtterWith(&otter.Options[string, string]{MaximumSize: s.Size}, s)
}

func newOtterWith(o *otter.Options[string, string], s spec) (Cache, error) {
	c, err := otter.New(o)
	if err != nil {
		return nil, err
	}
	return &otterAdapter{c: c, load: otter.LoaderFunc[string, string](s.Load)}, nil
}

func (a *otterAdapter) Get(ctx context.Context, key string) (string, error) {
	return a.c.Get(ctx, key, a.load)
}

func (a *otterAdapter) Invalidate(_ context.Context, key string) error {
	a.c.Invalidate(key)
	return nil
}

func (a *otterAdapter) Close() { a.c.StopAllGoroutines() }

// ristrettoAdapter is ristretto v2 with cost 1 per entry: Get, and on a
// miss load and SetWithTTL. Ristretto has no loader and no coalescing, and
// its Sets are asynchronous and may be dropped under contention.
type ristrettoAdapter struct {
	c    *ristretto.Cache[string, string]
	load Loader
	ttl  time.Duration
}

func newRistretto(_ *harness, s spec) (Cache, error) {
	c, err := ristretto.NewCache(&ristretto.Config[string, string]{
		NumCounters:        int64(10 * s.Size),
		MaxCost:            int64(s.Size),
		BufferItems:        64,
		IgnoreInternalCost: true,
	})
	if err != nil {
		return nil, err
	}
	return &ristrettoAdapter{c: c, load: s.Load, ttl: s.TTL}, nil
}

func (a *ristrettoAdapter) Get(ctx context.Context, key string) (string, error) {
	if v, ok := a.c.Get(key); ok {
		return v, nil
	}
	v, err := a.load(ctx, key)
	if err != nil {
		return "", err
	}
	a.c.SetWithTTL(key, v, 1, a.ttl)
	return v, nil
}

func (a *ristrettoAdapter) Invalidate(_ context.Context, key string) error {
	a.c.Del(key)
	return nil
}

func (a *ristrettoAdapter) Close() { a.c.Close() }

// syncMapAdapter is the cache people write by hand: a sync.Map, with
// x/sync/singleflight so that concurrent misses share one load. It has no
// TTL and no bound, and a load in flight can store a value older than an
// invalidation that overtook it.
type syncMapAdapter struct {
	m    sync.Map
	g    singleflight.Group
	load Loader
}

func newSyncMap(_ *harness, s spec) (Cache, error) {
	return &syncMapAdapter{load: s.Load}, nil
}

func (a *syncMapAdapter) Get(ctx context.Context, key string) (string, error) {
	if v, ok := a.m.Load(key); ok {
		return v.(string), nil
	}
	v, err, _ := a.g.Do(key, func() (any, error) {
		v, err := a.load(ctx, key)
		if err == nil {
			a.m.Store(key, v)
		}
		return v, err
	})
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

func (a *syncMapAdapter) Invalidate(_ context.Context, key string) error {
	a.m.Delete(key)
	return nil
}

func (a *syncMapAdapter) Close() {}

// errNoRedis is returned by the Redis contenders when the run has no Redis.
var errNoRedis = errors.New("no Redis server")
