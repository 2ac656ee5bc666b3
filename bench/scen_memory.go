package main

import (
	"fmt"
	"runtime"
	"sync/atomic"
)

// boundedContenders are the caches of the memory and hit-ratio cases: the
// in-process ones, and go-redis/cache's local TinyLFU tier.
func boundedContenders() []contender {
	return []contender{
		localContenders[0], localContenders[1], localContenders[2],
		{Name: "go-redis/cache (local tier)", New: newGoRedisCacheLocal},
		localContenders[3],
	}
}

// memoryUnits: the live heap (and goroutine stacks) a cache holds per entry
// once MemEntries keys are loaded, each sized to hold them all. Keys and
// values are allocated beforehand and not counted; the value of a key is
// the key itself. go-redis/cache's local tier stores a msgpack copy of each
// value, which is counted.
func memoryUnits(h *harness) []unit {
	name := fmt.Sprintf("memory/%dk", h.cfg.MemEntries/1000)
	h.describe(name, "live heap + stacks per entry after loading %d entries into a cache sized for them; B/entry", h.cfg.MemEntries)
	var units []unit
	for _, c := range boundedContenders() {
		units = append(units, unit{Scenario: "memory", Contender: c.Name, Cases: []string{name},
			Run: func(h *harness, _ []string) []Result { return []Result{runMemory(h, name, c)} }})
	}
	return units
}

// liveBytes is the heap in use plus goroutine stacks, after collecting.
func liveBytes() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc + m.StackInuse
}

func runMemory(h *harness, name string, c contender) Result {
	n := h.cfg.MemEntries
	keys := newKeys(n)
	var loads atomic.Int64
	before := liveBytes()
	cache, err := c.New(h, spec{Size: n, Load: countingLoader(&loads), TTL: h.cfg.TTL})
	if err != nil {
		return failed(name, c.Name, err)
	}
	defer cache.Close()
	for _, k := range keys {
		if _, err := cache.Get(h.ctx, k); err != nil {
			return failed(name, c.Name, err)
		}
	}
	if wc, ok := cache.(waiter); ok {
		wc.Wait()
	}
	after := liveBytes()
	// Count the entries kept: a Get that loads again missed.
	kept := int64(n)
	loads.Store(0)
	for _, k := range keys {
		_, _ = cache.Get(h.ctx, k)
		if loads.Load() > 0 {
			kept--
			loads.Store(0)
		}
	}
	runtime.KeepAlive(keys)
	per := float64(int64(after)-int64(before)) / float64(n)
	r := Result{Case: name, Contender: c.Name, Metric: per, Unit: "B/entry",
		Extra: map[string]float64{"kept%": 100 * float64(kept) / float64(n)}}
	if per <= 0 {
		r.Note = "below the heap's measurement noise at this size; not ranked"
	} else if kept < int64(n) {
		r.Note = fmt.Sprintf("kept %d of %d entries: bytes are per entry loaded", kept, n)
	}
	return r
}
