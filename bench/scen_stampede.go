package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// stampedeUnits: per round, the key is invalidated, then StampedeCallers
// goroutines, released together, Get it; the loader takes StampedeLoad.
// A coalescing cache calls the loader once per round. The figure is the
// wall time of a round (spawning the callers included), so it is at least
// the loader's latency.
func stampedeUnits(h *harness) []unit {
	name := fmt.Sprintf("stampede/%d", h.cfg.StampedeCallers)
	h.describe(name, "%d callers Get one just-invalidated key at once, loader takes %v; ns/op is the wall time of one round",
		h.cfg.StampedeCallers, h.cfg.StampedeLoad)
	var units []unit
	for _, c := range hitContenders(false) {
		units = append(units, unit{Scenario: "stampede", Contender: c.Name, Redis: c.Redis, Cases: []string{name}, Interleave: true,
			Run: func(h *harness, _ []string) []Result { return []Result{runStampede(h, name, c)} }})
	}
	return units
}

func runStampede(h *harness, name string, c contender) Result {
	var loads atomic.Int64
	delay := h.cfg.StampedeLoad
	slow := func(ctx context.Context, key string) (string, error) {
		loads.Add(1)
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
			return key, nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	cache, err := c.New(h, spec{Size: 1024, Load: slow, TTL: h.cfg.TTL})
	if err != nil {
		return failed(name, c.Name, err)
	}
	defer cache.Close()
	key := newKeys(1)[0]
	ctx := h.ctx
	var failures atomic.Int64
	round := func(_, _ int) {
		if err := cache.Invalidate(ctx, key); err != nil {
			failures.Add(1)
		}
		var start, done sync.WaitGroup
		start.Add(1)
		for range h.cfg.StampedeCallers {
			done.Go(func() {
				start.Wait()
				if v, err := cache.Get(ctx, key); err != nil || v != key {
					failures.Add(1)
				}
			})
		}
		start.Done()
		done.Wait()
	}
	round(0, 0) // warm up: the key's first load and any per-key setup
	s := runOnce(1, h.cfg.StampedeRounds, loads.Load, round)
	r := throughputResult(name, c.Name, s)
	r.Extra = map[string]float64{
		"loads/round":      s.countedPerOp(),
		"beyond-loader-µs": (s.nsPerOp() - float64(delay.Nanoseconds())) / 1e3,
	}
	if n := failures.Load(); n > 0 {
		r.Note = fmt.Sprintf("%d failed calls", n)
	}
	return r
}
