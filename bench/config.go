package main

import "time"

// config sizes every scenario. Start from fullConfig or quickConfig. Its
// -json keys are snake_case like the rest of the report; durations are
// integer nanoseconds, with an _ns suffix.
type config struct {
	// Benchtime is how long one timed run of a throughput case lasts,
	// after calibration. Count is how many rounds the throughput cases
	// make, each contender once per round, the median one reported.
	Benchtime time.Duration `json:"benchtime_ns"`
	Count     int           `json:"count"`
	// Zipf is the exponent (> 1) of the key distributions.
	Zipf float64 `json:"zipf"`
	// TTL is given to every cache that has one; no scenario outlives it.
	TTL time.Duration `json:"ttl_ns"`

	// HitKeys is the number of keys the hit and mix scenarios use;
	// Goroutines the goroutine counts of the hit scenario; MixWorkers the
	// goroutines of the read/invalidate mixes; MixReads their read shares
	// in percent.
	HitKeys    int   `json:"hit_keys"`
	Goroutines []int `json:"goroutines"`
	MixWorkers int   `json:"mix_workers"`
	MixReads   []int `json:"mix_reads_percent"`

	// ColdOps is the number of never-seen keys loaded by one timed run of
	// the cold-miss case.
	ColdOps int `json:"cold_ops"`

	// StampedeCallers callers Get one just-invalidated key per round,
	// StampedeRounds times; the loader takes StampedeLoad.
	StampedeCallers int           `json:"stampede_callers"`
	StampedeRounds  int           `json:"stampede_rounds"`
	StampedeLoad    time.Duration `json:"stampede_load_ns"`

	// CrossSamples is the number of cross-instance invalidations timed per
	// contender, within CrossBudget (fewer if the budget runs out).
	CrossSamples int           `json:"cross_samples"`
	CrossBudget  time.Duration `json:"cross_budget_ns"`
	// CrossKeys is how many keys the samples take in turn. With several,
	// each sample times one isolated invalidation; with one, invalidations
	// of the same key come back to back, a burst that slotcache's storm
	// damping holds up to 5 ms by design (README, "Invalidation storms").
	CrossKeys int `json:"cross_keys"`

	// MemEntries is the number of entries of the memory scenario.
	MemEntries int `json:"mem_entries"`

	// RatioKeys distinct keys, a cache of RatioSize entries, a Zipf trace
	// of RatioTrace accesses: the hit-ratio scenario.
	RatioKeys  int `json:"ratio_keys"`
	RatioSize  int `json:"ratio_size"`
	RatioTrace int `json:"ratio_trace"`
}

// fullConfig is the configuration of a full run: a few minutes on 2 cores.
func fullConfig() config {
	return config{
		Benchtime:       300 * time.Millisecond,
		Count:           3,
		Zipf:            1.01,
		TTL:             10 * time.Minute,
		HitKeys:         10_000,
		Goroutines:      []int{1, 2, 4, 8},
		MixWorkers:      4,
		MixReads:        []int{90, 75},
		ColdOps:         100_000,
		StampedeCallers: 1000,
		StampedeRounds:  30,
		StampedeLoad:    5 * time.Millisecond,
		CrossSamples:    10_000,
		CrossBudget:     60 * time.Second,
		CrossKeys:       64,
		MemEntries:      100_000,
		RatioKeys:       100_000,
		RatioSize:       10_000,
		RatioTrace:      1_000_000,
	}
}

// quickConfig is a smoke run of every scenario in a few seconds. Its
// figures are not meant to be quoted.
func quickConfig() config {
	c := fullConfig()
	c.Benchtime = 10 * time.Millisecond
	c.Count = 1
	c.HitKeys = 1000
	c.ColdOps = 2000
	c.StampedeRounds = 2
	c.StampedeLoad = time.Millisecond
	c.CrossSamples = 200
	c.CrossBudget = 10 * time.Second
	c.MemEntries = 2000
	c.RatioKeys = 2000
	c.RatioSize = 200
	c.RatioTrace = 20_000
	return c
}
