package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"runtime/pprof"
	"slices"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

func main() {
	redis.SetLogger(quietRedis{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// quietRedis discards go-redis's log lines (failed dials at shutdown).
type quietRedis struct{}

// Printf implements go-redis's logger by doing nothing.
func (quietRedis) Printf(context.Context, string, ...any) {}

// options are the command line.
type options struct {
	quick      bool
	json       bool
	out        string
	redisURL   string
	run        string
	cpuprofile string
	benchtime  time.Duration
	count      int
	samples    int
	crossKeys  int
	memEntries int
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.quick, "quick", false, "smoke run: tiny sizes, a few seconds; figures are not meant to be quoted")
	fs.BoolVar(&o.json, "json", false, "print the results as JSON on stdout instead of tables")
	fs.StringVar(&o.out, "o", "", "also write the results as JSON to this `file`")
	fs.StringVar(&o.redisURL, "redis", os.Getenv("REDIS_URL"), "use this Redis (redis://host:port/db; default: $REDIS_URL) instead of starting a throwaway redis-server; keys get random prefixes and a TTL")
	fs.StringVar(&o.run, "run", "", "run only the cases whose `case/contender` name matches this regexp, e.g. 'hits/4g' or 'mix/.*/slotcache$'")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the run to this file (combine with -run)")
	fs.DurationVar(&o.benchtime, "benchtime", 0, "duration of one timed run of a throughput case (default 300ms, 10ms with -quick)")
	fs.IntVar(&o.count, "count", 0, "rounds of the throughput cases, each contender once per round; the median is reported (default 3, 1 with -quick)")
	fs.IntVar(&o.crossKeys, "cross-keys", 0, "keys the cross-instance samples take in turn (default 64; 1: the same key back to back, which slotcache's storm damping holds)")
	fs.IntVar(&o.samples, "samples", 0, "cross-instance invalidations timed per contender (default 10000, 200 with -quick)")
	fs.IntVar(&o.memEntries, "mem-entries", 0, "entries of the memory case (default 100000, 2000 with -quick); two sizes tell fixed costs from per-entry ones")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: go run . [flags]\n\nRuns slotcache and its peers side by side and prints the results.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return o, nil
}

// buildConfig applies the flags to the full or quick configuration.
func buildConfig(o options) config {
	cfg := fullConfig()
	if o.quick {
		cfg = quickConfig()
	}
	if o.benchtime > 0 {
		cfg.Benchtime = o.benchtime
	}
	if o.count > 0 {
		cfg.Count = o.count
	}
	if o.samples > 0 {
		cfg.CrossSamples = o.samples
	}
	if o.crossKeys > 0 {
		cfg.CrossKeys = o.crossKeys
	}
	if o.memEntries > 0 {
		cfg.MemEntries = o.memEntries
	}
	return cfg
}

// allUnits lists every scenario's units, in the order they run and print.
func allUnits(h *harness) []unit {
	var units []unit
	for _, f := range []func(*harness) []unit{hitUnits, mixUnits, coldUnits, reloadUnits, stampedeUnits, crossUnits, memoryUnits, hitRatioUnits} {
		units = append(units, f(h)...)
	}
	return units
}

// run runs the command and returns its exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}
	h := &harness{ctx: ctx, cfg: buildConfig(o), redisURL: o.redisURL, progress: newProgress(stderr)}
	if o.run != "" {
		if h.filter, err = regexp.Compile(o.run); err != nil {
			fmt.Fprintf(stderr, "bench: -run: %v\n", err)
			return 2
		}
	}
	units := allUnits(h)
	if h.redisURL == "" && needsRedis(h, units) {
		srv, err := startRedis()
		if err != nil {
			fmt.Fprintf(stderr, "bench: %v\nbench: the Redis cases will be skipped\n", err)
		} else {
			defer srv.stop()
			h.redisURL = srv.URL()
		}
	}
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	loadBefore := loadAverage()
	h.runAll(units)
	// An interrupted run (Ctrl-C) still reports the cases it finished.
	interrupted := ctx.Err() != nil
	rep := report{Machine: thisMachine(), Quick: o.quick, Interrupted: interrupted, Config: h.cfg, Cases: h.cases, Results: h.results}
	rep.Machine.LoadBefore, rep.Machine.LoadAfter = loadBefore, loadAverage()
	rep.Cases = slices.DeleteFunc(rep.Cases, func(c caseInfo) bool { return !hasResults(rep.Results, c.Name) })
	rep.Headline = headlines(rep.Cases, rep.Results)
	if o.out != "" {
		if err := writeJSONFile(o.out, rep); err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
	}
	write := writeTable
	if o.json {
		write = writeJSON
	}
	if err := write(stdout, rep); err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	if interrupted {
		fmt.Fprintln(stderr, "bench: interrupted; the report above covers the cases that ran")
		return exitInterrupted
	}
	return 0
}

// exitInterrupted is the shell's status for a command ended by SIGINT
// (128+2).
const exitInterrupted = 130

// needsRedis reports whether a selected case needs Redis.
func needsRedis(h *harness, units []unit) bool {
	for _, u := range units {
		if u.Redis && len(h.selected(u)) > 0 {
			return true
		}
	}
	return false
}

func hasResults(rs []Result, name string) bool {
	for _, r := range rs {
		if r.Case == name {
			return true
		}
	}
	return false
}

// writeJSONFile writes the report as JSON to path.
func writeJSONFile(path string, rep report) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := writeJSON(f, rep); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
