package main

import (
	"context"
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
	return loadingUnits("cold", func(h *harness, c contender) Result {
		var keys []string
		return runLoading(h, "cold", c, 2*h.cfg.ColdOps,
			func(Cache) error { keys = newKeys(h.cfg.ColdOps); return nil },
			func(ctx context.Context, cache Cache, i int) (string, error) { return cache.Get(ctx, keys[i]) })
	})
}

// reloadUnits: one goroutine invalidates a warm key and Gets it again, so
// each Get loads (the loader is free): the cost of a write followed by a
// read of the same key, the common pattern of a write-through service.
// Local caches only, as for coldUnits.
func reloadUnits(h *harness) []unit {
	h.describe("reload", "Invalidate then Get of one warm key, 1 goroutine, %d per run, free loader: the cost of a reload", h.cfg.ColdOps)
	return loadingUnits("reload", func(h *harness, c contender) Result {
		return runLoading(h, "reload", c, 1024,
			func(cache Cache) error { _, err := cache.Get(h.ctx, "warm"); return err },
			func(ctx context.Context, cache Cache, _ int) (string, error) {
				if err := cache.Invalidate(ctx, "warm"); err != nil {
					return "", err
				}
				return cache.Get(ctx, "warm")
			})
	})
}

// loadingUnits is one unit per local contender of a case in which every
// operation loads.
func loadingUnits(name string, run func(*harness, contender) Result) []unit {
	var units []unit
	for _, c := range localContenders {
		units = append(units, unit{Scenario: name, Contender: c.Name, Cases: []string{name}, Interleave: true,
			Run: func(h *harness, _ []string) []Result { return []Result{run(h, c)} }})
	}
	return units
}

// runLoading times ColdOps calls of op on one goroutine, each timed run on
// a fresh cache of the given size prepared by prep, and reports the loads
// per operation.
func runLoading(h *harness, name string, c contender, size int, prep func(Cache) error, op func(context.Context, Cache, int) (string, error)) Result {
	var err error
	var loads atomic.Int64
	s := median(h.cfg.Count, func() sample {
		cache, nerr := c.New(h, spec{Size: size, Load: countingLoader(&loads), TTL: h.cfg.TTL})
		if nerr != nil {
			err = nerr
			return sample{}
		}
		defer cache.Close()
		if perr := prep(cache); perr != nil {
			err = perr
			return sample{}
		}
		ctx := h.ctx
		return runOnce(1, h.cfg.ColdOps, loads.Load, func(w, i int) {
			v, oerr := op(ctx, cache, i)
			if oerr != nil {
				err = oerr
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
