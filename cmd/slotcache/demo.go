package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/slotcache/slotcache"
)

// demoConfig configures the demo. Start from defaultDemoConfig: its zero
// value is not valid.
type demoConfig struct {
	// Workers is the number of goroutines calling Get concurrently.
	Workers int
	// Requests is the number of Gets each worker makes.
	Requests int
	// Slots is the number of distinct slot IDs the workers pick from.
	Slots int
	// LoadLatency is the mean time a loader call takes, as a database read
	// would: each call sleeps a random time between 2/3 and 5/3 of it.
	LoadLatency time.Duration
	// TTL is how long a loaded value stays fresh in the local engine.
	TTL time.Duration
	// Uniform picks slots uniformly; by default a Zipf skew makes a few
	// slots hot, as real keys are.
	Uniform bool
	// Seed seeds the workers' slot picks, so that runs are repeatable.
	Seed uint64
	// CrossRounds is how many cross-instance invalidations are measured
	// when REDIS_URL is set.
	CrossRounds int
	// HTTP, when set, is the address where the local engine's live view
	// and /metrics are served; the demo then keeps its workers busy after
	// its report until interrupted.
	HTTP string
}

// defaultDemoConfig returns a configuration that finishes in well under
// five seconds on a small machine.
func defaultDemoConfig() demoConfig {
	return demoConfig{
		Workers:     64,
		Requests:    5000,
		Slots:       20,
		LoadLatency: 30 * time.Millisecond,
		TTL:         slotcache.DefaultTTL,
		Seed:        1,
		CrossRounds: 200,
	}
}

// validate reports the first field that makes the demo meaningless.
func (c demoConfig) validate() error {
	switch {
	case c.Workers <= 0:
		return fmt.Errorf("-workers must be positive, got %d", c.Workers)
	case c.Requests <= 0:
		return fmt.Errorf("-requests must be positive, got %d", c.Requests)
	case c.Slots <= 0:
		return fmt.Errorf("-slots must be positive, got %d", c.Slots)
	case c.LoadLatency < 0:
		return fmt.Errorf("-load-latency must not be negative, got %v", c.LoadLatency)
	case c.TTL <= 0:
		return fmt.Errorf("-ttl must be positive, got %v", c.TTL)
	case c.CrossRounds <= 0:
		return fmt.Errorf("-rounds must be positive, got %d", c.CrossRounds)
	}
	return nil
}

// demoReport is what the demo measured, for tests and for printing.
type demoReport struct {
	Local localReport
	// Cross is nil when REDIS_URL is not set.
	Cross *crossReport
}

// localReport is the outcome of the local, Redis-less part of the demo.
type localReport struct {
	// Requests is the number of Gets served (all of them succeeded).
	Requests int
	// SlotsTouched is the number of distinct slots the workers asked for.
	SlotsTouched int
	// LoaderCalls is the number of loader calls the Gets cost, counted by
	// the loader itself.
	LoaderCalls int64
	// Stats is the engine's own view of the concurrent phase.
	Stats slotcache.Stats
	// Wall is the duration of the concurrent phase.
	Wall time.Duration
	// Latency summarises the latency of every Get.
	Latency percentiles

	// InvalidatedSlot is the slot invalidated after the concurrent phase.
	InvalidatedSlot string
	// CachedBefore and CachedAfter tell whether the slot was cached just
	// before and just after Invalidate (before any further Get);
	// CachedAfterGet whether it was cached again after the next Get.
	CachedBefore, CachedAfter, CachedAfterGet bool
	// LoadsBefore and LoadsAfter are the loader calls before Invalidate and
	// after the Get that followed it.
	LoadsBefore, LoadsAfter int64
	// ValueBefore and ValueAfter are the values Get returned before
	// Invalidate and after it.
	ValueBefore, ValueAfter row
}

// row is the value the demo's loader "reads from the database": which slot,
// and which loader call produced it.
type row struct {
	Slot string
	Load int64 // 1 for the first loader call of the run, 2 for the second...
}

// String describes where the value came from.
func (r row) String() string { return fmt.Sprintf("%s from loader call #%d", r.Slot, r.Load) }

// percentiles summarises a set of latencies.
type percentiles struct {
	P50, P90, P99, Max time.Duration
}

// summarize returns the nearest-rank percentiles of ds, which it sorts.
func summarize(ds []time.Duration) percentiles {
	if len(ds) == 0 {
		return percentiles{}
	}
	slices.Sort(ds)
	at := func(p float64) time.Duration {
		i := int(p*float64(len(ds))+0.999999) - 1 // ceil(p*n) - 1
		return ds[min(max(i, 0), len(ds)-1)]
	}
	return percentiles{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: ds[len(ds)-1]}
}

// runDemo runs the local demo, then, if the REDIS_URL environment variable
// is set, the cross-instance one, printing both to w. It checks that Redis
// answers before starting anything, so an unreachable Redis fails fast.
func runDemo(ctx context.Context, cfg demoConfig, w io.Writer) (demoReport, error) {
	var rep demoReport
	if err := cfg.validate(); err != nil {
		return rep, err
	}
	redisURL := os.Getenv("REDIS_URL")
	if redisURL != "" {
		if err := checkDemoRedis(ctx, redisURL); err != nil {
			return rep, err
		}
	}
	local, err := runLocal(ctx, cfg, w)
	rep.Local = local
	if err != nil {
		return rep, err
	}
	if cfg.HTTP != "" && ctx.Err() != nil {
		return rep, nil // interrupted while serving the live view: done
	}
	if redisURL == "" {
		fmt.Fprintf(w, "\nREDIS_URL is not set: skipping the cross-instance part.\n"+
			"Set it (e.g. REDIS_URL=redis://127.0.0.1:6379/0) to measure how fast an\n"+
			"invalidation on one engine reaches another one through Redis.\n")
		return rep, nil
	}
	cross, err := runCross(ctx, cfg, w)
	if err != nil {
		return rep, err
	}
	rep.Cross = &cross
	return rep, nil
}

// runLocal runs the concurrent Gets and the invalidation on an engine
// without Redis.
func runLocal(ctx context.Context, cfg demoConfig, w io.Writer) (localReport, error) {
	rep := localReport{Requests: cfg.Workers * cfg.Requests}
	eng, err := slotcache.New(slotcache.WithTTL(cfg.TTL))
	if err != nil {
		return rep, err
	}
	defer eng.Close()
	if cfg.HTTP != "" {
		stop, err := startLive(cfg.HTTP, eng, w)
		if err != nil {
			return rep, err
		}
		defer stop()
	}

	var loads atomic.Int64
	load := func(ctx context.Context, slotID string) (row, error) {
		n := loads.Add(1)
		if err := sleep(ctx, jittered(cfg.LoadLatency)); err != nil {
			return row{}, err
		}
		return row{Slot: slotID, Load: n}, nil
	}
	ids := make([]string, cfg.Slots)
	for i := range ids {
		ids[i] = fmt.Sprintf("slot-%d", i)
	}

	dist := "Zipf, s=1.1: a few hot slots"
	if cfg.Uniform || cfg.Slots == 1 {
		dist = "uniform"
	}
	tw := newTable(w)
	fmt.Fprintf(tw, "slotcache demo: local engine, no Redis\n")
	fmt.Fprintf(tw, "  workers\t%d\n", cfg.Workers)
	fmt.Fprintf(tw, "  requests\t%d\t(%d per worker)\n", rep.Requests, cfg.Requests)
	fmt.Fprintf(tw, "  slots\t%d\t(%s)\n", cfg.Slots, dist)
	fmt.Fprintf(tw, "  loader latency\t%s–%s\t(simulated database read)\n",
		fmtDur(cfg.LoadLatency*2/3), fmtDur(cfg.LoadLatency*5/3))
	fmt.Fprintf(tw, "  ttl\t%v\n", cfg.TTL)
	if err := tw.Flush(); err != nil {
		return rep, err
	}

	// The concurrent phase: every worker records its latencies and the
	// slots it touched in its own slices, merged afterwards.
	lat := make([][]time.Duration, cfg.Workers)
	touched := make([][]bool, cfg.Workers)
	errs := make([]error, cfg.Workers)
	var wg sync.WaitGroup
	start := time.Now()
	for wk := range cfg.Workers {
		lat[wk] = make([]time.Duration, 0, cfg.Requests)
		touched[wk] = make([]bool, cfg.Slots)
		wg.Go(func() {
			pick := picker(cfg, uint64(wk))
			for range cfg.Requests {
				k := pick()
				t0 := time.Now()
				v, err := slotcache.GetAs(ctx, eng, ids[k], load)
				lat[wk] = append(lat[wk], time.Since(t0))
				touched[wk][k] = true
				if err == nil && v.Slot != ids[k] {
					err = fmt.Errorf("Get(%q) returned the value of %q", ids[k], v.Slot)
				}
				if err != nil {
					errs[wk] = fmt.Errorf("worker %d: %w", wk, err)
					return
				}
			}
		})
	}
	wg.Wait()
	rep.Wall = time.Since(start)
	if failed := slices.DeleteFunc(errs, func(err error) bool { return err == nil }); len(failed) > 0 {
		return rep, fmt.Errorf("%d of %d workers failed; first: %w", len(failed), cfg.Workers, failed[0])
	}
	rep.LoaderCalls = loads.Load()
	rep.Stats = eng.Stats()
	all := make([]time.Duration, 0, rep.Requests)
	for wk := range cfg.Workers {
		all = append(all, lat[wk]...)
	}
	rep.Latency = summarize(all)
	for k := range cfg.Slots {
		for wk := range cfg.Workers {
			if touched[wk][k] {
				rep.SlotsTouched++
				break
			}
		}
	}

	// The invalidation: the next Get after it must call the loader again.
	id := ids[0]
	rep.InvalidatedSlot = id
	if rep.ValueBefore, err = slotcache.GetAs(ctx, eng, id, load); err != nil {
		return rep, err
	}
	rep.LoadsBefore = loads.Load()
	rep.CachedBefore = eng.Cached(id)
	if err := eng.Invalidate(ctx, id); err != nil {
		return rep, err
	}
	rep.CachedAfter = eng.Cached(id)
	if rep.ValueAfter, err = slotcache.GetAs(ctx, eng, id, load); err != nil {
		return rep, err
	}
	rep.LoadsAfter = loads.Load()
	rep.CachedAfterGet = eng.Cached(id)

	if err := printLocal(w, rep); err != nil || cfg.HTTP == "" {
		return rep, err
	}
	return rep, keepBusy(ctx, eng, cfg, ids, load, w)
}

// printLocal prints the results of the local demo.
func printLocal(w io.Writer, rep localReport) error {
	st := rep.Stats
	tw := newTable(w)
	fmt.Fprintf(tw, "\nConcurrent Gets\n")
	fmt.Fprintf(tw, "  wall time\t%s\t(%.0f requests/s)\n", fmtDur(rep.Wall), float64(rep.Requests)/rep.Wall.Seconds())
	fmt.Fprintf(tw, "  requests served\t%d\n", rep.Requests)
	fmt.Fprintf(tw, "  slots touched\t%d\n", rep.SlotsTouched)
	fmt.Fprintf(tw, "  loader calls\t%d\t(%s)\n", rep.LoaderCalls, loadsNote(rep))
	fmt.Fprintf(tw, "  hits\t%d\t(fresh entry, no lock, no message)\n", st.Hits)
	fmt.Fprintf(tw, "  misses\t%d\t(went to the slot actor: %d called the loader, %d joined a load in flight)\n",
		st.Misses, st.Loads, st.Coalesced)
	fmt.Fprintf(tw, "  hit ratio\t%.2f%%\n", 100*ratio(st.Hits, st.Hits+st.Misses))
	fmt.Fprintf(tw, "\nGet latency (all requests)\n")
	fmt.Fprintf(tw, "  p50\t%s\n", fmtDur(rep.Latency.P50))
	fmt.Fprintf(tw, "  p90\t%s\n", fmtDur(rep.Latency.P90))
	fmt.Fprintf(tw, "  p99\t%s\n", fmtDur(rep.Latency.P99))
	fmt.Fprintf(tw, "  max\t%s\t(a cold Get waits for its slot's load)\n", fmtDur(rep.Latency.Max))
	fmt.Fprintf(tw, "\nInvalidate(%q)\n", rep.InvalidatedSlot)
	fmt.Fprintf(tw, "  before\tcached=%t\tloader calls=%d\tvalue: %v\n", rep.CachedBefore, rep.LoadsBefore, rep.ValueBefore)
	fmt.Fprintf(tw, "  after Invalidate\tcached=%t\n", rep.CachedAfter)
	fmt.Fprintf(tw, "  after next Get\tcached=%t\tloader calls=%d\tvalue: %v\n", rep.CachedAfterGet, rep.LoadsAfter, rep.ValueAfter)
	return tw.Flush()
}

// loadsNote explains the loader call count of the concurrent phase.
func loadsNote(rep localReport) string {
	if rep.LoaderCalls == int64(rep.SlotsTouched) {
		return "one per slot touched: concurrent misses shared each load"
	}
	return fmt.Sprintf("%d slots touched; the extra calls reloaded expired entries", rep.SlotsTouched)
}

// picker returns the slot index generator of worker wk: Zipf-skewed, or
// uniform if cfg.Uniform, seeded from cfg.Seed and wk.
func picker(cfg demoConfig, wk uint64) func() int {
	r := rand.New(rand.NewPCG(cfg.Seed, wk))
	if cfg.Slots == 1 {
		return func() int { return 0 }
	}
	if cfg.Uniform {
		return func() int { return r.IntN(cfg.Slots) }
	}
	z := rand.NewZipf(r, 1.1, 1, uint64(cfg.Slots-1))
	return func() int { return int(z.Uint64()) }
}

// jittered returns a random duration between 2/3 and 5/3 of mean.
func jittered(mean time.Duration) time.Duration {
	if mean <= 0 {
		return 0
	}
	return mean*2/3 + rand.N(mean)
}

// sleep waits for d or until ctx ends, as a well-behaved loader does.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ratio returns a/b, or 0 when b is 0.
func ratio(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// newTable returns a writer that aligns tab-separated columns.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// fmtDur prints d with three significant digits or so, in the unit that
// suits it.
func fmtDur(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d.Nanoseconds())
	case d < time.Millisecond:
		return trimZeros(fmt.Sprintf("%.1f", float64(d)/float64(time.Microsecond))) + "µs"
	case d < time.Second:
		return trimZeros(fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond))) + "ms"
	default:
		return trimZeros(fmt.Sprintf("%.2f", d.Seconds())) + "s"
	}
}

// trimZeros drops trailing zeros after a decimal point, and the point.
func trimZeros(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
}
