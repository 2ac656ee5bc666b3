package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"runtime"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
)

// sampleTimeout bounds one cross-instance sample: past it, the new value
// never reached instance B and the case fails.
const sampleTimeout = 2 * time.Second

// crossUnits: two instances, A and B, of a cache share a Redis server that
// is also the "database". Each sample: B holds version n-1 of a key; A
// writes version n to the database and invalidates (for rueidis the write
// itself is the invalidation: Redis tracks B's cached keys); the clock
// stops when a Get on B returns version n. B polls with Get in a loop.
// go-redis/cache has no cross-instance invalidation of its local tier
// (B would serve version n-1 until its local TTL), so it is not in this
// case.
func crossUnits(h *harness) []unit {
	const name = "invalidation"
	h.describe(name, "A writes a new version and invalidates; time until B serves it, through a real redis-server: %d samples on %d keys in turn (p50 as the figure)", h.cfg.CrossSamples, h.cfg.CrossKeys)
	return []unit{
		{Scenario: "cross-instance", Contender: "slotcache+redis", Redis: true, Cases: []string{name},
			Run: func(h *harness, _ []string) []Result { return []Result{crossSlotcache(h, name)} }},
		{Scenario: "cross-instance", Contender: "rueidis", Redis: true, Cases: []string{name},
			Run: func(h *harness, _ []string) []Result { return []Result{crossRueidis(h, name)} }},
	}
}

// crossInstance is one pair of instances as the sampling loop sees them.
type crossInstance struct {
	write func(ctx context.Context, key, version string) error  // A: write and invalidate
	read  func(ctx context.Context, key string) (string, error) // B: Get
}

// sampleCross runs the samples and summarises them.
func sampleCross(h *harness, name, contender string, ci crossInstance) Result {
	ctx := h.ctx
	deadline := time.Now().Add(h.cfg.CrossBudget)
	lags := make([]time.Duration, 0, h.cfg.CrossSamples)
	writes := make([]time.Duration, 0, h.cfg.CrossSamples)
	keys := newKeys(max(1, h.cfg.CrossKeys))
	for n := 1; n <= h.cfg.CrossSamples && time.Now().Before(deadline); n++ {
		want, key := strconv.Itoa(n), keys[n%len(keys)]
		t0 := time.Now()
		if err := ci.write(ctx, key, want); err != nil {
			return failed(name, contender, fmt.Errorf("sample %d: write: %w", n, err))
		}
		writes = append(writes, time.Since(t0))
		for {
			v, err := ci.read(ctx, key)
			if err != nil {
				return failed(name, contender, fmt.Errorf("sample %d: read: %w", n, err))
			}
			if v == want {
				break
			}
			if time.Since(t0) > sampleTimeout {
				return failed(name, contender, fmt.Errorf("sample %d: B still served %q %v after A wrote %q", n, v, sampleTimeout, want))
			}
			if err := ctx.Err(); err != nil {
				return failed(name, contender, err)
			}
			runtime.Gosched()
		}
		lags = append(lags, time.Since(t0))
	}
	l := summarize(lags)
	r := Result{Case: name, Contender: contender, Metric: float64(l.P50.Nanoseconds()), Unit: "ns p50",
		Extra: map[string]float64{
			"samples": float64(l.N),
			"p99-µs":  float64(l.P99.Nanoseconds()) / 1e3,
			"p999-µs": float64(l.P999.Nanoseconds()) / 1e3,
			"max-µs":  float64(l.Max.Nanoseconds()) / 1e3,
			"mean-µs": float64(l.Mean.Nanoseconds()) / 1e3,
			// How long A's write (and, for slotcache, its Invalidate,
			// a PUBLISH round trip) took to return: the part of the lag
			// spent before B can know.
			"write-p50-µs": float64(summarize(writes).P50.Nanoseconds()) / 1e3,
		}}
	if l.N < h.cfg.CrossSamples {
		r.Note = fmt.Sprintf("only %d of %d samples within the %v budget", l.N, h.cfg.CrossSamples, h.cfg.CrossBudget)
	}
	return r
}

// crossSlotcache: engines A and B on one channel; the loader reads the key
// from Redis; A SETs the new version, then Invalidate publishes.
func crossSlotcache(h *harness, name string) Result {
	const contender = "slotcache+redis"
	db, err := h.goRedis()
	if err != nil {
		return failed(name, contender, err)
	}
	defer db.Close()
	load := func(ctx context.Context, k string) (string, error) {
		v, err := db.Get(ctx, k).Result()
		if err == redis.Nil {
			return "", nil // a key's first sample: B holds nothing yet
		}
		return v, err
	}
	s := spec{Size: 1024, Load: load, TTL: h.cfg.TTL}
	channel := "slotcache:bench:" + rand.Text()
	a, err := newSlotcacheOnChannel(h, s, channel)
	if err != nil {
		return failed(name, contender, err)
	}
	defer a.Close()
	b, err := newSlotcacheOnChannel(h, s, channel)
	if err != nil {
		return failed(name, contender, err)
	}
	defer b.Close()
	return sampleCross(h, name, contender, crossInstance{
		write: func(ctx context.Context, key, v string) error {
			if err := db.Set(ctx, key, v, h.cfg.TTL).Err(); err != nil {
				return err
			}
			return a.Invalidate(ctx, key)
		},
		read: func(ctx context.Context, key string) (string, error) { return b.Get(ctx, key) },
	})
}

// crossRueidis: two rueidis clients with client-side caching; A SETs the
// new version, and Redis's invalidation push makes B's next DoCache fetch
// it.
func crossRueidis(h *harness, name string) Result {
	const contender = "rueidis"
	a, err := h.rueidis()
	if err != nil {
		return failed(name, contender, err)
	}
	defer a.Close()
	b, err := h.rueidis()
	if err != nil {
		return failed(name, contender, err)
	}
	defer b.Close()
	ttl := h.cfg.TTL
	return sampleCross(h, name, contender, crossInstance{
		write: func(ctx context.Context, key, v string) error {
			return a.Do(ctx, a.B().Set().Key(key).Value(v).Px(ttl).Build()).Error()
		},
		read: func(ctx context.Context, key string) (string, error) {
			v, err := b.DoCache(ctx, b.B().Get().Key(key).Cache(), ttl).ToString()
			if rueidis.IsRedisNil(err) {
				return "", nil
			}
			return v, err
		},
	})
}
