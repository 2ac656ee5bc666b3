package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/slotcache/slotcache"
)

// benchConfig configures the bench command: a load test of slotcache alone
// against the user's own setup. Start from defaultBenchConfig. In -json
// output, like every key of the report, its keys are snake_case and
// durations are integer nanoseconds with an _ns suffix.
type benchConfig struct {
	// RedisURL links the instances through this Redis; empty, one local
	// engine is tested.
	RedisURL string `json:"redis_url,omitempty"`
	// Channel is the pub/sub channel; empty picks a throwaway one, so that
	// a load test never invalidates a production cache.
	Channel string `json:"channel,omitempty"`
	// Instances is the number of engines, each with its own Redis
	// connection as separate processes would have.
	Instances int `json:"instances"`
	// Workers is the number of goroutines calling Get, spread over the
	// instances.
	Workers int `json:"workers"`
	// Keys is the number of distinct slots; Zipf the exponent of their
	// distribution (> 1), or 0 for uniform.
	Keys int     `json:"keys"`
	Zipf float64 `json:"zipf"`
	// Duration is how long the load lasts.
	Duration time.Duration `json:"duration_ns"`
	// LoadLatency is the mean latency of a loader call (each sleeps
	// between 2/3 and 5/3 of it).
	LoadLatency time.Duration `json:"load_latency_ns"`
	// TTL is the engines' TTL.
	TTL time.Duration `json:"ttl_ns"`
	// InvalidateRate is how many random slots instance 0 invalidates per
	// second during the run; 0 disables it.
	InvalidateRate float64 `json:"invalidate_rate_per_sec"`
	// JSON prints the report as JSON instead of text.
	JSON bool `json:"-"`
	// Seed seeds the key picks.
	Seed uint64 `json:"seed"`
	// HTTP, when set, is the address where instance 0's live view and
	// /metrics are served during the run.
	HTTP string `json:"http,omitempty"`
}

// defaultBenchConfig returns a ten-second single-engine load test.
func defaultBenchConfig() benchConfig {
	return benchConfig{
		Instances:      1,
		Workers:        4 * runtime.GOMAXPROCS(0),
		Keys:           10_000,
		Zipf:           1.01,
		Duration:       10 * time.Second,
		LoadLatency:    time.Millisecond,
		TTL:            slotcache.DefaultTTL,
		InvalidateRate: 100,
		Seed:           1,
	}
}

// validate reports the first flag that makes the run meaningless.
func (c benchConfig) validate() error {
	switch {
	case c.Instances < 1:
		return fmt.Errorf("-instances must be at least 1, got %d", c.Instances)
	case c.Instances > 1 && c.RedisURL == "":
		return errors.New("-instances > 1 needs -redis: without Redis the instances never see each other's invalidations")
	case c.Workers < 1:
		return fmt.Errorf("-workers must be positive, got %d", c.Workers)
	case c.Keys < 1:
		return fmt.Errorf("-keys must be positive, got %d", c.Keys)
	case c.Zipf != 0 && c.Zipf <= 1:
		return fmt.Errorf("-zipf must be greater than 1 (or 0 for uniform), got %v", c.Zipf)
	case c.Duration <= 0:
		return fmt.Errorf("-duration must be positive, got %v", c.Duration)
	case c.LoadLatency < 0:
		return fmt.Errorf("-load-latency must not be negative, got %v", c.LoadLatency)
	case c.TTL <= 0:
		return fmt.Errorf("-ttl must be positive, got %v", c.TTL)
	case c.InvalidateRate < 0:
		return fmt.Errorf("-invalidate-rate must not be negative, got %v", c.InvalidateRate)
	}
	return nil
}

// runBenchCommand parses the bench flags and runs the load test.
func runBenchCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg := defaultBenchConfig()
	fs := flag.NewFlagSet("slotcache bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.RedisURL, "redis", os.Getenv("REDIS_URL"),
		"Redis `URL` (redis:// or rediss://) linking the instances (default: $REDIS_URL, read with the REDIS_TLS_* files,\n"+
			"REDIS_USERNAME and REDIS_PASSWORD as for demo; another URL is used as it is); empty: one local engine")
	fs.StringVar(&cfg.Channel, "channel", "", "pub/sub channel (default: a throwaway one, so production caches are never invalidated)")
	fs.IntVar(&cfg.Instances, "instances", cfg.Instances, "number of engines (more than 1 needs -redis); instance 0 invalidates")
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "goroutines calling Get, spread over the instances")
	fs.IntVar(&cfg.Keys, "keys", cfg.Keys, "number of distinct slots")
	fs.Float64Var(&cfg.Zipf, "zipf", cfg.Zipf, "Zipf exponent of the key distribution (> 1; 0 for uniform)")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long the load lasts")
	fs.DurationVar(&cfg.LoadLatency, "load-latency", cfg.LoadLatency,
		"mean simulated loader latency; each call sleeps between 2/3 and 5/3 of it")
	fs.DurationVar(&cfg.TTL, "ttl", cfg.TTL, "TTL of cached values")
	fs.Float64Var(&cfg.InvalidateRate, "invalidate-rate", cfg.InvalidateRate, "slots instance 0 invalidates per second (0: none)")
	fs.BoolVar(&cfg.JSON, "json", false, "print the report as JSON")
	fs.StringVar(&cfg.HTTP, "http", "", "serve instance 0's live view and /metrics at this `address` (e.g. 127.0.0.1:8080) during the run")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: slotcache bench [flags]\n\n"+
			"Load-tests slotcache on this machine with your parameters: Get throughput,\n"+
			"hit ratio, loader calls, Get latency percentiles and, with -redis and\n"+
			"-instances > 1, how long an invalidation on instance 0 takes to reach the\n"+
			"others. Run it before deploying.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, stderr, func() error { return cfg.validate() }); !ok {
		return code
	}
	rep, err := runBench(ctx, cfg, stderr)
	if err != nil && !rep.Interrupted {
		fmt.Fprintf(stderr, "slotcache bench: %v\n", err)
		return exitFail
	}
	if cfg.JSON {
		err = writeBenchJSON(stdout, rep)
	} else {
		err = printBench(stdout, rep)
	}
	if err != nil {
		fmt.Fprintf(stderr, "slotcache bench: %v\n", err)
		return exitFail
	}
	if rep.Interrupted {
		fmt.Fprintf(stderr, "slotcache bench: interrupted after %s; the report above is partial\n", fmtDur(rep.Wall))
		return exitInterrupted
	}
	return exitOK
}
