package main

import (
	"fmt"
	"slices"
	"sync/atomic"
)

// mixUnits: Gets and Invalidates of Zipf-distributed keys in a fixed
// proportion (90/10, 75/25), by MixWorkers goroutines. An invalidated key
// is reloaded by the next Get of it. The local caches and the Redis-backed
// ones are separate cases: an invalidation of the latter costs a round trip
// to Redis (a PUBLISH for slotcache, a DEL for the others).
func mixUnits(h *harness) []unit {
	var units []unit
	groups := []struct {
		scenario    string
		contenders  []contender
		description string
	}{
		{"mix", localContenders, "in-process; Invalidate is local"},
		{"mix-redis", redisContenders, "with Redis; Invalidate tells the other instances (slotcache: PUBLISH) or deletes the shared key " +
			"(others: DEL); a reload calls the loader (slotcache) or goes through Redis first (others: GET, SET)"},
	}
	for _, g := range groups {
		var cases []string
		for _, reads := range h.cfg.MixReads {
			name := fmt.Sprintf("%s/%d-%d", g.scenario, reads, 100-reads)
			cases = append(cases, name)
			h.describe(name, "%d%% Gets / %d%% Invalidates, %d goroutines, %d keys, Zipf s=%.2f, %s",
				reads, 100-reads, h.cfg.MixWorkers, h.cfg.HitKeys, h.cfg.Zipf, g.description)
		}
		for _, c := range g.contenders {
			units = append(units, unit{Scenario: g.scenario, Contender: c.Name, Redis: c.Redis, Cases: cases, Interleave: true,
				Run: func(h *harness, sel []string) []Result { return runMix(h, g.scenario, c, sel) }})
		}
	}
	return units
}

func runMix(h *harness, scenario string, c contender, sel []string) []Result {
	var out []Result
	for _, reads := range h.cfg.MixReads {
		name := fmt.Sprintf("%s/%d-%d", scenario, reads, 100-reads)
		if !slices.Contains(sel, name) {
			continue
		}
		out = append(out, runMixCase(h, name, c, reads))
	}
	return out
}

// runMixCase runs one mix on a fresh, preloaded cache.
func runMixCase(h *harness, name string, c contender, reads int) Result {
	keys := newKeys(h.cfg.HitKeys)
	var loads atomic.Int64
	cache, err := c.New(h, spec{Size: 2 * len(keys), Load: countingLoader(&loads), TTL: h.cfg.TTL})
	if err != nil {
		return failed(name, c.Name, err)
	}
	defer cache.Close()
	if err := preload(h.ctx, cache, keys); err != nil {
		return failed(name, c.Name, err)
	}
	tr := traces(h.cfg.MixWorkers, len(keys), h.cfg.Zipf)
	ctx := h.ctx
	var errs atomic.Int64
	s := throughput(h.cfg.Benchtime, h.cfg.Count, h.cfg.MixWorkers, loads.Load, func(w, i int) {
		k := keys[tr[w][i&(traceLen-1)]]
		// (i*37)%100 walks 0..99 in a scrambled order: reads% of the ops
		// are Gets, spread evenly.
		if (i*37)%100 < reads {
			v, err := cache.Get(ctx, k)
			if err != nil {
				errs.Add(1)
			}
			sink[w].s = v
		} else if err := cache.Invalidate(ctx, k); err != nil {
			errs.Add(1)
		}
	})
	r := throughputResult(name, c.Name, s)
	r.Extra = map[string]float64{"loads/op": s.countedPerOp()}
	if n := errs.Load(); n > 0 {
		r.Note = fmt.Sprintf("%d operations failed", n)
	}
	return r
}
