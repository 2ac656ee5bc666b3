package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/slotcache/slotcache"
)

const (
	// probeID is the slot the lag prober invalidates; the workload never
	// uses it.
	probeID = "slotcache-bench:probe"
	// probePause separates two lag probes, so that probing stays a small
	// part of the load.
	probePause = 10 * time.Millisecond
	// lagTimeout is how long a probe waits for the other instances to drop
	// the slot before counting the invalidation as lost.
	lagTimeout = 2 * time.Second
	// timedEvery: one Get in timedEvery is timed, so that reading the
	// clock does not dominate the cost of a hit.
	timedEvery = 8
)

// benchReport is what a bench run measured.
type benchReport struct {
	Config  benchConfig `json:"config"`
	Channel string      `json:"channel,omitempty"`
	// Interrupted is set when the run was cut short (Ctrl-C): the figures
	// cover the time it ran.
	Interrupted bool `json:"interrupted,omitempty"`
	// Wall is the duration of the load.
	Wall time.Duration `json:"wall_ns"`
	// Gets is the number of workload Gets; GetsPerSec their throughput.
	Gets       int64   `json:"gets"`
	GetsPerSec float64 `json:"gets_per_sec"`
	GetErrors  int64   `json:"get_errors"`
	// Hits and Misses are the engines' counters for the workload (the lag
	// prober's own Gets are taken out); Coalesced counts misses that
	// joined a load in flight.
	Hits      uint64  `json:"hits"`
	Misses    uint64  `json:"misses"`
	Coalesced uint64  `json:"coalesced"`
	HitRatio  float64 `json:"hit_ratio"`
	// LoaderCalls counts the workload loader's calls.
	LoaderCalls int64 `json:"loader_calls"`
	// Latency summarises the timed Gets (one in timedEvery).
	Latency latencySummary `json:"latency"`
	// Invalidations is how many workload invalidations instance 0 made;
	// PublishErrors how many of them (or of the probes) it could not
	// publish.
	Invalidations int64  `json:"invalidations"`
	PublishErrors uint64 `json:"publish_errors"`
	// Applied is, per instance, how many invalidations from the others it
	// applied; Subscriptions how many subscriptions Redis confirmed.
	Applied       []uint64 `json:"applied,omitempty"`
	Subscriptions []uint64 `json:"subscriptions,omitempty"`
	// Lag is set with -instances > 1.
	Lag *lagReport `json:"lag,omitempty"`
}

// lagReport is the invalidation lag: from the start of Invalidate on
// instance 0 until another instance no longer has the slot cached.
type lagReport struct {
	// Probes is the number of probe invalidations; Lost counts the
	// instances that still had the slot after lagTimeout, over all probes.
	Probes  int            `json:"probes"`
	Lost    int            `json:"lost"`
	Latency latencySummary `json:"latency"`
}

// runBench runs the load test described by cfg, showing progress on
// progressW, and returns what it measured.
func runBench(ctx context.Context, cfg benchConfig, progressW io.Writer) (benchReport, error) {
	rep := benchReport{Config: cfg}
	rep.Config.RedisURL = redactIfSet(cfg.RedisURL)
	engines, closeAll, channel, err := startEngines(ctx, cfg)
	if err != nil {
		return rep, err
	}
	defer closeAll()
	rep.Channel = channel
	if cfg.HTTP != "" {
		stop, err := startLive(cfg.HTTP, engines[0], progressW)
		if err != nil {
			return rep, err
		}
		defer stop()
	}

	ids := make([]string, cfg.Keys)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench-slot-%d", i)
	}
	var loads atomic.Int64
	load := func(ctx context.Context, id string) (string, error) {
		loads.Add(1)
		return id, sleep(ctx, jittered(cfg.LoadLatency))
	}

	var stop atomic.Bool
	var wg sync.WaitGroup
	workers := make([]benchWorker, cfg.Workers)
	for w := range workers {
		wg.Go(func() { workers[w].run(ctx, &stop, engines[w%len(engines)], ids, keyPicker(cfg, uint64(w)), load) })
	}
	inv := &invalidator{}
	if cfg.InvalidateRate > 0 {
		wg.Go(func() { inv.run(ctx, &stop, engines[0], ids, keyPicker(cfg, 1<<32), cfg.InvalidateRate) })
	}
	var prober *lagProber
	if len(engines) > 1 {
		prober = &lagProber{engines: engines}
		wg.Go(func() { prober.run(ctx, &stop) })
	}

	start := time.Now()
	progress := newBenchProgress(progressW, cfg.Duration)
	tick := time.NewTicker(progress.interval())
	deadline := time.NewTimer(cfg.Duration)
	for running := true; running; {
		select {
		case <-tick.C:
			progress.update(time.Since(start), sumGets(workers), progressNote(engines, prober))
		case <-deadline.C:
			running = false
		case <-ctx.Done():
			running = false
		}
	}
	tick.Stop()
	deadline.Stop()
	stop.Store(true)
	wg.Wait()
	rep.Wall = time.Since(start)
	progress.finish(rep.Wall, sumGets(workers), progressNote(engines, prober))
	// An interrupted run still reports what it measured.
	rep.Interrupted = ctx.Err() != nil

	var hist histogram
	for w := range workers {
		rep.Gets += workers[w].gets.Load()
		rep.GetErrors += workers[w].errs
		hist.merge(&workers[w].hist)
	}
	rep.GetsPerSec = float64(rep.Gets) / rep.Wall.Seconds()
	rep.Latency = hist.summary()
	rep.LoaderCalls = loads.Load()
	rep.Invalidations = inv.done
	for _, e := range engines {
		st := e.Stats()
		rep.Hits += st.Hits
		rep.Misses += st.Misses
		rep.Coalesced += st.Coalesced
		rep.PublishErrors += st.PublishErrors
		if cfg.RedisURL != "" {
			rep.Applied = append(rep.Applied, st.CrossProcessInvalidations)
			rep.Subscriptions = append(rep.Subscriptions, st.Subscriptions)
		}
	}
	if prober != nil {
		rep.Hits -= min(rep.Hits, prober.hits)
		rep.Misses -= min(rep.Misses, prober.misses)
		rep.Lag = &lagReport{Probes: prober.probes, Lost: prober.lost, Latency: prober.hist.summary()}
	}
	rep.HitRatio = ratio(rep.Hits, rep.Hits+rep.Misses)
	return rep, ctx.Err()
}

// startEngines starts cfg.Instances engines, each with its own Redis
// client when cfg.RedisURL is set, and waits until Redis has confirmed
// their subscriptions. closeAll closes them and their clients.
func startEngines(ctx context.Context, cfg benchConfig) (engines []*slotcache.Engine, closeAll func(), channel string, err error) {
	var clients []*redis.Client
	closeAll = func() {
		for _, e := range engines {
			_ = e.Close()
		}
		for _, c := range clients {
			_ = c.Close()
		}
	}
	// redisOpts returns the options that connect one instance to Redis,
	// with the client they dial, if any, added to clients.
	redisOpts := func() []slotcache.Option { return nil }
	if cfg.RedisURL != "" {
		channel = cfg.Channel
		if channel == "" {
			channel = "slotcache:bench:" + rand.Text()
		}
		var err error
		if redisOpts, err = benchRedis(ctx, cfg.RedisURL, channel, &clients); err != nil {
			return nil, closeAll, "", err
		}
	}
	for i := range cfg.Instances {
		opts := redisOpts()
		// After FromEnv: the bench's TTL, not SLOTCACHE_TTL_MS.
		opts = append(opts, slotcache.WithTTL(cfg.TTL))
		if channel != "" {
			opts = append(opts, slotcache.WithChannel(channel))
		}
		e, err := slotcache.New(opts...)
		if err != nil {
			closeAll()
			return nil, func() {}, "", fmt.Errorf("instance %d: %w", i, err)
		}
		engines = append(engines, e)
	}
	for i, e := range engines {
		rctx, cancel := context.WithTimeout(ctx, readyTimeout)
		err := e.WaitReady(rctx)
		cancel()
		if err != nil {
			closeAll()
			return nil, func() {}, "", fmt.Errorf("instance %d: Redis did not confirm the subscription to %q within %v: %w",
				i, channel, readyTimeout, err)
		}
	}
	return engines, closeAll, channel, nil
}

// benchRedis checks the Redis at rawURL on channel, the instances' (see
// checkRedis), so that a wrong -redis fails at once with a clear message,
// and returns what connects an
// instance to it. The URL of REDIS_URL, bench's default, gets FromEnv, as
// the demo's and an application's engines do: with the environment's TLS
// files and credentials, or through Sentinel. Another URL is dialled as it
// says, with a client per instance, which newOpts adds to clients for the
// caller to close.
func benchRedis(ctx context.Context, rawURL, channel string, clients *[]*redis.Client) (newOpts func() []slotcache.Option, err error) {
	set := redisSetting{
		channel: channel,
		where:   redact(rawURL),
		fix: "Check the URL's credentials, the user's ACL rights, and that this system trusts the server's certificate " +
			"(a -redis other than $REDIS_URL is used as it is, without REDIS_TLS_*, REDIS_USERNAME or REDIS_PASSWORD)",
		without: `pass -redis "" to bench one local engine`,
	}
	if rawURL == os.Getenv("REDIS_URL") {
		set.where, set.fix = "REDIS_URL="+set.where, envFix
		newOpts = func() []slotcache.Option { return []slotcache.Option{slotcache.FromEnv()} }
		return newOpts, checkRedis(ctx, set, newOpts()...)
	}
	ropts, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("-redis %s: %w", redact(rawURL), err)
	}
	check := redis.NewClient(ropts)
	defer check.Close()
	if err := checkRedis(ctx, set, slotcache.WithRedis(check)); err != nil {
		return nil, err
	}
	return func() []slotcache.Option {
		c := redis.NewClient(ropts)
		*clients = append(*clients, c)
		return []slotcache.Option{slotcache.WithRedis(c)}
	}, nil
}

// redactIfSet hides the password of a non-empty Redis URL.
func redactIfSet(rawURL string) string {
	if rawURL == "" {
		return ""
	}
	return redact(rawURL)
}

// keyPicker returns a key index generator: Zipf-skewed, or uniform if
// cfg.Zipf is 0, seeded from cfg.Seed and stream.
func keyPicker(cfg benchConfig, stream uint64) func() int {
	r := mrand.New(mrand.NewPCG(cfg.Seed, stream))
	if cfg.Keys == 1 {
		return func() int { return 0 }
	}
	if cfg.Zipf == 0 {
		return func() int { return r.IntN(cfg.Keys) }
	}
	z := mrand.NewZipf(r, cfg.Zipf, 1, uint64(cfg.Keys-1))
	return func() int { return int(z.Uint64()) }
}

// benchWorker is one goroutine of the workload, with its own counters.
type benchWorker struct {
	gets atomic.Int64 // published every few Gets for the progress display
	errs int64
	hist histogram
	_    [64]byte // keeps neighbours' gets off this cache line
}

// run calls Get on e until stop, timing one Get in timedEvery.
func (w *benchWorker) run(ctx context.Context, stop *atomic.Bool, e *slotcache.Engine, ids []string, pick func() int,
	load func(context.Context, string) (string, error)) {
	var n int64
	defer func() { w.gets.Store(n) }()
	for !stop.Load() {
		id := ids[pick()]
		var err error
		if n%timedEvery == 0 {
			t0 := time.Now()
			_, err = slotcache.GetAs(ctx, e, id, load)
			w.hist.record(time.Since(t0))
		} else {
			_, err = slotcache.GetAs(ctx, e, id, load)
		}
		if err != nil {
			if ctx.Err() != nil {
				return // interrupted: not a failure of the cache
			}
			w.errs++
		}
		n++
		if n&63 == 0 {
			w.gets.Store(n)
		}
	}
}

// sumGets adds up the workers' published Get counts.
func sumGets(ws []benchWorker) int64 {
	var n int64
	for i := range ws {
		n += ws[i].gets.Load()
	}
	return n
}

// invalidator invalidates random slots on instance 0 at a steady rate.
type invalidator struct {
	done int64 // read after the run
}

func (inv *invalidator) run(ctx context.Context, stop *atomic.Bool, e *slotcache.Engine, ids []string, pick func() int, rate float64) {
	interval := max(time.Duration(float64(time.Second)/rate), 100*time.Microsecond)
	t := time.NewTicker(interval)
	defer t.Stop()
	start := time.Now()
	for !stop.Load() {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// Catch up on what the ticker's resolution skipped.
		due := int64(time.Since(start).Seconds() * rate)
		for ; inv.done < due && !stop.Load(); inv.done++ {
			_ = e.Invalidate(ctx, ids[pick()]) // failures show in Stats().PublishErrors
		}
	}
}

// lagProber measures, again and again, how long an invalidation made on
// instance 0 takes to make the other instances drop a slot.
type lagProber struct {
	engines      []*slotcache.Engine
	hist         histogram
	probes, lost int
	// hits and misses are the prober's own Gets, taken out of the report.
	hits, misses uint64
	last         atomic.Int64 // the last lag measured, in ns, for the progress display
}

func probeLoad(context.Context, string) (string, error) { return "probe", nil }

func (p *lagProber) run(ctx context.Context, stop *atomic.Bool) {
	for !stop.Load() && ctx.Err() == nil {
		if err := p.probe(ctx); err != nil {
			return
		}
		t := time.NewTimer(probePause)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}

// probe caches the probe slot on every other instance, invalidates it on
// instance 0 and records when each other instance drops it.
func (p *lagProber) probe(ctx context.Context) error {
	others := p.engines[1:]
	for _, e := range others {
		if e.Cached(probeID) {
			p.hits++ // the last probe's invalidation never reached e
		} else {
			p.misses++
		}
		if _, err := slotcache.GetAs(ctx, e, probeID, probeLoad); err != nil {
			return err
		}
	}
	start := time.Now()
	if err := p.engines[0].Invalidate(ctx, probeID); err != nil {
		return nil // counted in PublishErrors; probe again
	}
	pending := make([]bool, len(others))
	left := len(others)
	for left > 0 {
		for i, e := range others {
			if !pending[i] && !e.Cached(probeID) {
				pending[i] = true
				left--
				d := time.Since(start)
				p.hist.record(d)
				p.last.Store(int64(d))
			}
		}
		elapsed := time.Since(start)
		if elapsed > lagTimeout {
			p.lost += left
			break
		}
		// Spin briefly for precision, then poll gently so as not to
		// starve the instances being measured on a small machine.
		if elapsed < spinFor {
			runtime.Gosched()
		} else {
			time.Sleep(pollEvery)
		}
	}
	p.probes++
	return nil
}

// progressNote is the live summary next to the progress bar.
func progressNote(engines []*slotcache.Engine, p *lagProber) string {
	var hits, misses, loads uint64
	for _, e := range engines {
		st := e.Stats()
		hits, misses, loads = hits+st.Hits, misses+st.Misses, loads+st.Loads
	}
	note := fmt.Sprintf("hit %.2f%%  loads %d", 100*ratio(hits, hits+misses), loads)
	if p != nil {
		note += "  lag " + fmtDur(time.Duration(p.last.Load()))
	}
	return note
}
