// Command slotcache shows the slotcache engine at work.
//
// Usage:
//
//	slotcache demo [flags]
//	slotcache bench [flags]
//	slotcache version
//
// The demo runs many concurrent Gets on a few slow-loading slots of a local
// engine (no Redis) and prints how many requests were served, how many
// loader calls they cost, the hit ratio and the Get latency percentiles;
// then it invalidates one slot and shows that the next Get loads it again.
//
// With REDIS_URL set, it also starts two engines, A and B, on one Redis
// channel, and measures how long an invalidation published by A takes to
// drop the slot from B's cache.
//
// The bench command load-tests slotcache with your parameters (-redis,
// -instances, -keys, -zipf, -duration, -load-latency...) and reports
// throughput, hit ratio, loader calls, latency percentiles and invalidation
// lag.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"
)

// main runs the command and exits with its status.
func main() {
	redis.SetLogger(quietRedis{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// quietRedis discards go-redis's own log lines, which it prints to stderr
// on every failed dial: the demo reports a Redis failure itself, once.
type quietRedis struct{}

// Printf implements go-redis's logger interface by doing nothing.
func (quietRedis) Printf(context.Context, string, ...any) {}

// Exit statuses of run.
const (
	exitOK    = 0 // the command did what was asked
	exitFail  = 1 // the command ran and failed (e.g. Redis unreachable)
	exitUsage = 2 // the command line was wrong
	// exitInterrupted is the shell's status for a command ended by
	// SIGINT (128+2): bench prints its partial report and exits with it.
	exitInterrupted = 130
)

// usage is printed for a missing or unknown subcommand and for help.
const usage = `Usage: slotcache <command> [flags]

Commands:
  demo    run concurrent Gets on slow-loading slots of a local engine and
          report loader calls, hit ratio and latency; with REDIS_URL set,
          also measure cross-instance invalidation latency through Redis
  bench   load-test slotcache with your parameters (keys, skew, loader
          latency, instances on your Redis) before deploying: throughput,
          hit ratio, loader calls, latency percentiles, invalidation lag
  version print the slotcache and Go versions

Run "slotcache demo -h" or "slotcache bench -h" for their flags.
`

// run executes the command line args (without the program name), writing
// results to stdout and diagnostics to stderr, and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "demo":
		return runDemoCommand(ctx, args[1:], stdout, stderr)
	case "bench":
		return runBenchCommand(ctx, args[1:], stdout, stderr)
	case "version", "-version", "--version":
		printVersion(stdout)
		return exitOK
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "slotcache: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
}

// runDemoCommand parses the demo's flags and runs it.
func runDemoCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg := defaultDemoConfig()
	fs := flag.NewFlagSet("slotcache demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "number of concurrent callers")
	fs.IntVar(&cfg.Requests, "requests", cfg.Requests, "Gets per worker")
	fs.IntVar(&cfg.Slots, "slots", cfg.Slots, "number of distinct slots")
	fs.DurationVar(&cfg.LoadLatency, "load-latency", cfg.LoadLatency,
		"mean simulated loader latency; each loader call sleeps between 2/3 and 5/3 of it")
	fs.DurationVar(&cfg.TTL, "ttl", cfg.TTL, "TTL of cached values")
	fs.BoolVar(&cfg.Uniform, "uniform", cfg.Uniform, "pick slots uniformly instead of with a Zipf skew")
	fs.IntVar(&cfg.CrossRounds, "rounds", cfg.CrossRounds,
		"cross-instance invalidations to measure (only with REDIS_URL set)")
	fs.StringVar(&cfg.HTTP, "http", "",
		"serve the live view and /metrics at this `address` (e.g. 127.0.0.1:8080) and keep running until interrupted")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: slotcache demo [flags]\n\n"+
			"Set REDIS_URL (e.g. redis://127.0.0.1:6379/0) to also measure\n"+
			"cross-instance invalidation latency through Redis.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, stderr, func() error { return cfg.validate() }); !ok {
		return code
	}
	if _, err := runDemo(ctx, cfg, stdout); err != nil {
		fmt.Fprintf(stderr, "slotcache demo: %v\n", err)
		return exitFail
	}
	return exitOK
}

// parseFlags parses a subcommand's flags and checks them with validate. When
// the command should not run (help asked for, or bad flags, reported on
// stderr) ok is false and code is the exit code. validate runs after the
// flags are parsed, so it must read the parsed values (a closure, not a
// method value of a config copied before parsing).
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer, validate func() error) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return exitUsage, false
	}
	if err := validate(); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
		return exitUsage, false
	}
	return 0, true
}
