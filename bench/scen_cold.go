package main

import (
	"sync/atomic"
)

// coldUnits: one goroutine Gets keys never seen before, so each Get loads
// (the loader itself is free): the engine's own cost of a miss. Each timed
// run uses a fresh cache and fresh keys. The Redis-backed caches are left
// out: their miss is dominated by round trips to Redis for the shared copy,
// which a local slotcache (without WithFill) does not have, so the
// comparison would say nothing about either.
func coldUnits(h *harness) []unit {
	h.describe("cold", "Gets of never-seen keys, 1 goroutine, %d per run, free loader: the cost of a miss", h.cfg.ColdOps)
	var units []unit
	for _, c := range localContenders {
		units = append(units, unit{Scenario: "cold", Contender: c.Name, Cases: []string{"cold"}, Interleave: true,
			Run: func(h *harness, _ []string) []Result { return []Result{runCold(h, "cold", c, h.cfg.ColdOps)} }})
	}
	return units
}

func runCold(h *harness, name string, c contender, ops int) Result {
	var err error
	var loads atomic.Int64
	s := median(h.cfg.Count, func() sample {
		keys := newKeys(ops)
		cache, nerr := c.New(h, spec{Size: 2 * ops, Load: countingLoader(&loads), TTL: h.cfg.TTL})
		if nerr != nil {
			err = nerr
			return sample{}
		}
		defer cache.Close()
		ctx := h.ctx
		return runOnce(1, ops, loads.Load, func(w, i int) {
			v, gerr := cache.Get(ctx, keys[i])
			if gerr != nil {
				err = gerr
			}
			sink[w].s = v
		})
	})
	if err != nil {
		return failed(name, c.Name, err)
	}
	r := throughputResult(name, c.Name, s)
	r.Extra = map[string]float64{"loads/op": s.countedPerOp()}
	return r
}
