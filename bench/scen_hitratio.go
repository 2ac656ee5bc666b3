package main

import (
	"fmt"
	"sync/atomic"
)

// hitRatioUnits: one goroutine replays a Zipf trace of RatioTrace accesses
// over RatioKeys keys through a cache of RatioSize entries; every access that
// calls the loader is a miss. The figure is the miss ratio (lower is better:
// it is the load the cache leaves on the database). slotcache runs with
// WithMaxSlots(RatioSize) (see slotcacheSizeOptions) and shows how many
// slots it holds at the end; built without a bound, its row would show the
// compulsory misses only (first access of each key) and not be ranked.
func hitRatioUnits(h *harness) []unit {
	name := "hit-ratio/zipf"
	h.describe(name, "miss ratio (%%) replaying %d Zipf (s=%.2f) accesses over %d keys through a cache of %d entries",
		h.cfg.RatioTrace, h.cfg.Zipf, h.cfg.RatioKeys, h.cfg.RatioSize)
	var units []unit
	for _, c := range boundedContenders() {
		if c.Name == "syncmap+singleflight" {
			continue // unbounded: only compulsory misses, nothing to learn
		}
		units = append(units, unit{Scenario: "hit-ratio", Contender: c.Name, Cases: []string{name},
			Run: func(h *harness, _ []string) []Result { return []Result{runHitRatio(h, name, c)} }})
	}
	return units
}

func runHitRatio(h *harness, name string, c contender) Result {
	keys := newKeys(h.cfg.RatioKeys)
	trace := zipfTraceLen(len(keys), h.cfg.Zipf, 42, h.cfg.RatioTrace)
	var loads atomic.Int64
	cache, err := c.New(h, spec{Size: h.cfg.RatioSize, Load: countingLoader(&loads), TTL: h.cfg.TTL})
	if err != nil {
		return failed(name, c.Name, err)
	}
	defer cache.Close()
	for _, k := range trace {
		if _, err := cache.Get(h.ctx, keys[k]); err != nil {
			return failed(name, c.Name, err)
		}
	}
	miss := 100 * float64(loads.Load()) / float64(len(trace))
	compulsory := 100 * float64(distinct(trace)) / float64(len(trace))
	r := Result{Case: name, Contender: c.Name, Metric: miss, Unit: "miss%",
		Extra: map[string]float64{"hit%": 100 - miss, "compulsory-miss%": compulsory}}
	if s, ok := cache.(interface{ Slots() int }); ok {
		r.Extra["slots-held"] = float64(s.Slots())
	}
	if c.Name == "slotcache" && !slotcacheBounded() {
		r.Excluded = true
		r.Note = fmt.Sprintf("unbounded (built without WithMaxSlots): holds all %d keys, so only compulsory misses; not ranked", distinct(trace))
	}
	return r
}
