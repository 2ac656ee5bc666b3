package main

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// identity is the loader of the throughput scenarios: the value of a key is
// the key itself, so loading allocates nothing.
func identity(_ context.Context, key string) (string, error) { return key, nil }

// countingLoader returns identity counting its calls in n.
func countingLoader(n *atomic.Int64) Loader {
	return func(_ context.Context, key string) (string, error) {
		n.Add(1)
		return key, nil
	}
}

// waiter is implemented by caches that finish work in the background
// after a Get returns: Wait applies ristretto's buffered writes, and lets
// slotcache's idle slot actors passivate.
type waiter interface{ Wait() }

func (a *ristrettoAdapter) Wait() { a.c.Wait() }

// preload Gets every key once with a few goroutines (the Redis-backed
// caches pay a round trip per key), then lets asynchronous caches apply
// their writes.
func preload(ctx context.Context, c Cache, keys keySet) error {
	const workers = 8
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(keys); i += workers {
				if _, err := c.Get(ctx, keys[i]); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	if wc, ok := c.(waiter); ok {
		wc.Wait()
	}
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("preload: %w", err)
		}
	}
	return nil
}

// hitUnits: parallel Gets of cached keys, Zipf-distributed, with 1, 2, 4
// and 8 goroutines. Every key is loaded before the timed runs; a cache that
// dropped or evicted some reloads them, which shows as misses.
func hitUnits(h *harness) []unit {
	var cases []string
	for _, g := range h.cfg.Goroutines {
		name := fmt.Sprintf("hits/%dg", g)
		cases = append(cases, name)
		h.describe(name, "parallel Gets of cached keys: %d goroutine(s), %d keys, Zipf s=%.2f, GOMAXPROCS=%d",
			g, h.cfg.HitKeys, h.cfg.Zipf, runtime.GOMAXPROCS(0))
	}
	var units []unit
	for _, c := range hitContenders(true) {
		units = append(units, unit{Scenario: "hits", Contender: c.Name, Redis: c.Redis, Cases: cases, Interleave: true,
			Run: func(h *harness, sel []string) []Result { return runHits(h, c, sel) }})
	}
	return units
}

// hitContenders are the contenders of the hit and stampede cases: every
// cache, with slotcache once (its hits and stampedes do not touch Redis,
// and Redis adds only a PUBLISH to its invalidation), and, if withNoTTL,
// otter without expiry too.
func hitContenders(withNoTTL bool) []contender {
	cs := append([]contender{}, localContenders...)
	if withNoTTL {
		cs = append(cs[:2:2], append([]contender{otterNoTTL}, cs[2:]...)...)
	}
	return append(cs, redisContenders[1:]...)
}

func runHits(h *harness, c contender, sel []string) []Result {
	keys := newKeys(h.cfg.HitKeys)
	var loads atomic.Int64
	cache, err := c.New(h, spec{Size: 2 * len(keys), Load: countingLoader(&loads), TTL: h.cfg.TTL})
	if err != nil {
		return failAll(sel, c.Name, err)
	}
	defer cache.Close()
	if err := preload(h.ctx, cache, keys); err != nil {
		return failAll(sel, c.Name, err)
	}
	maxG := 0
	for _, g := range h.cfg.Goroutines {
		maxG = max(maxG, g)
	}
	tr := traces(maxG, len(keys), h.cfg.Zipf)
	var out []Result
	for _, g := range h.cfg.Goroutines {
		name := fmt.Sprintf("hits/%dg", g)
		if !slices.Contains(sel, name) {
			continue
		}
		ctx := h.ctx
		s := throughput(h.cfg.Benchtime, h.cfg.Count, g, loads.Load, func(w, i int) {
			v, _ := cache.Get(ctx, keys[tr[w][i&(traceLen-1)]])
			sink[w].s = v
		})
		r := throughputResult(name, c.Name, s)
		if s.counted > 0 {
			r.Extra = map[string]float64{"miss%": 100 * s.countedPerOp()}
			r.Note = "some entries were dropped or evicted and reloaded"
		}
		out = append(out, r)
	}
	return out
}

// failAll reports err for every selected case.
func failAll(sel []string, contender string, err error) []Result {
	out := make([]Result, len(sel))
	for i, c := range sel {
		out[i] = failed(c, contender, err)
	}
	return out
}
