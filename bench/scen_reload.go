package main

import (
	"sync/atomic"
)

// reloadUnits: one goroutine invalidates a warm key and Gets it again, so
// each Get loads (the loader is free): the cost of a write followed by a
// read of the same key, the common pattern of a write-through service.
// Local caches only, for the reason given in coldUnits.
func reloadUnits(h *harness) []unit {
	h.describe("reload", "Invalidate then Get of one warm key, 1 goroutine, %d per run, free loader: the cost of a reload", h.cfg.ColdOps)
	var units []unit
	for _, c := range localContenders {
		units = append(units, unit{Scenario: "reload", Contender: c.Name, Cases: []string{"reload"}, Interleave: true,
			Run: func(h *harness, _ []string) []Result { return []Result{runReload(h, "reload", c, h.cfg.ColdOps)} }})
	}
	return units
}

func runReload(h *harness, name string, c contender, ops int) Result {
	var err error
	var loads atomic.Int64
	s := median(h.cfg.Count, func() sample {
		cache, nerr := c.New(h, spec{Size: 1024, Load: countingLoader(&loads), TTL: h.cfg.TTL})
		if nerr != nil {
			err = nerr
			return sample{}
		}
		defer cache.Close()
		ctx := h.ctx
		if _, gerr := cache.Get(ctx, "warm"); gerr != nil {
			err = gerr
			return sample{}
		}
		return runOnce(1, ops, loads.Load, func(w, _ int) {
			if ierr := cache.Invalidate(ctx, "warm"); ierr != nil {
				err = ierr
			}
			v, gerr := cache.Get(ctx, "warm")
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
