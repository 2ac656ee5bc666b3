package main

import (
	"bytes"
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/slotcache/slotcache/internal/redistest"
)

// TestMain fails the package if a demo leaves goroutines behind, which
// would mean it did not close its engines or Redis clients.
func TestMain(m *testing.M) {
	redis.SetLogger(quietRedis{})
	goleak.VerifyTestMain(m)
}

// testTimeout bounds each demo run, so that a broken engine fails the test
// instead of hanging it.
const testTimeout = 30 * time.Second

// testContext returns a context that ends at testTimeout or with the test.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// smallConfig is a demo configuration that runs in a few milliseconds.
func smallConfig() demoConfig {
	cfg := defaultDemoConfig()
	cfg.Workers = 16
	cfg.Requests = 200
	cfg.Slots = 8
	cfg.LoadLatency = 5 * time.Millisecond
	cfg.TTL = time.Minute
	cfg.CrossRounds = 20
	return cfg
}

// TestDemoLocal checks that the local demo reports what the engine
// promises: one loader call per slot touched, however many concurrent
// requests, and exactly one more after an invalidation.
func TestDemoLocal(t *testing.T) {
	t.Setenv("REDIS_URL", "")
	for _, tc := range []struct {
		name   string
		modify func(*demoConfig)
	}{
		{"zipf", func(*demoConfig) {}},
		{"uniform", func(c *demoConfig) { c.Uniform = true }},
		{"one hot slot", func(c *demoConfig) { c.Slots = 1; c.Workers = 64; c.Requests = 20 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := smallConfig()
			tc.modify(&cfg)
			var out bytes.Buffer
			rep, err := runDemo(testContext(t), cfg, &out)
			if err != nil {
				t.Fatalf("runDemo: %v\noutput:\n%s", err, out.String())
			}
			l := rep.Local
			if rep.Cross != nil {
				t.Errorf("cross-instance part ran without REDIS_URL")
			}
			if want := cfg.Workers * cfg.Requests; l.Requests != want {
				t.Errorf("requests = %d, want %d", l.Requests, want)
			}
			if l.SlotsTouched < 1 || l.SlotsTouched > cfg.Slots {
				t.Errorf("slots touched = %d, want 1..%d", l.SlotsTouched, cfg.Slots)
			}
			if l.LoaderCalls != int64(l.SlotsTouched) {
				t.Errorf("loader calls = %d, want one per slot touched (%d)", l.LoaderCalls, l.SlotsTouched)
			}
			if l.Stats.Loads != uint64(l.LoaderCalls) {
				t.Errorf("engine counted %d loads, the loader %d calls", l.Stats.Loads, l.LoaderCalls)
			}
			if l.Stats.Loads+l.Stats.Coalesced > l.Stats.Misses {
				t.Errorf("loads (%d) + coalesced misses (%d) > misses (%d)", l.Stats.Loads, l.Stats.Coalesced, l.Stats.Misses)
			}
			if got := l.Stats.Hits + l.Stats.Misses; got != uint64(l.Requests) {
				t.Errorf("hits + misses = %d, want %d requests", got, l.Requests)
			}
			if !l.CachedBefore || l.CachedAfter || !l.CachedAfterGet {
				t.Errorf("cached before/after Invalidate/after Get = %t/%t/%t, want true/false/true",
					l.CachedBefore, l.CachedAfter, l.CachedAfterGet)
			}
			if l.LoadsAfter != l.LoadsBefore+1 {
				t.Errorf("loader calls before/after invalidation = %d/%d, want exactly one more", l.LoadsBefore, l.LoadsAfter)
			}
			if l.ValueAfter.Load != l.LoadsAfter || l.ValueBefore.Load == l.ValueAfter.Load {
				t.Errorf("value before %v, after %v: want the after value from the last loader call (#%d)",
					l.ValueBefore, l.ValueAfter, l.LoadsAfter)
			}
			if l.Latency.P50 > l.Latency.P99 || l.Latency.P99 > l.Latency.Max || l.Latency.Max <= 0 {
				t.Errorf("latency percentiles out of order: %+v", l.Latency)
			}
			for _, want := range []string{
				"requests served  " + strconv.Itoa(l.Requests),
				"loader calls     " + strconv.FormatInt(l.LoaderCalls, 10),
				"hit ratio",
				"p99",
				"loader calls=" + strconv.FormatInt(l.LoadsAfter, 10),
				"REDIS_URL is not set",
			} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}

// TestDemoCrossInstance runs the two-engine part against a real
// redis-server: every invalidation A publishes must reach B, and none may
// come back to A.
func TestDemoCrossInstance(t *testing.T) {
	s := redistest.Start(t)
	t.Setenv("REDIS_URL", s.URL())
	t.Setenv("SLOTCACHE_TTL_MS", "1") // must not shorten the cross-instance TTL
	cfg := smallConfig()
	var out bytes.Buffer
	rep, err := runDemo(testContext(t), cfg, &out)
	if err != nil {
		t.Fatalf("runDemo: %v\noutput:\n%s", err, out.String())
	}
	c := rep.Cross
	if c == nil {
		t.Fatalf("cross-instance part did not run with REDIS_URL set:\n%s", out.String())
	}
	if c.Rounds != cfg.CrossRounds {
		t.Errorf("rounds = %d, want %d", c.Rounds, cfg.CrossRounds)
	}
	if c.B.CrossProcessInvalidations != uint64(cfg.CrossRounds) {
		t.Errorf("B applied %d invalidations, want %d", c.B.CrossProcessInvalidations, cfg.CrossRounds)
	}
	if c.A.CrossProcessInvalidations != 0 {
		t.Errorf("A applied %d invalidations, want 0 (its own echoes)", c.A.CrossProcessInvalidations)
	}
	// Each drop is measured after its publish returned, so it dominates.
	if c.Drop.P50 < c.Publish.P50 || c.Drop.Max < c.Publish.Max || c.Drop.Max > dropTimeout {
		t.Errorf("implausible latencies: publish %+v, drop %+v", c.Publish, c.Drop)
	}
	for _, want := range []string{"Cross-instance invalidation", "B no longer cached", c.Channel} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestDemoRedisUnreachable checks that an unreachable REDIS_URL fails the
// demo at once, with a message that says what to do, and exit status 1.
func TestDemoRedisUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there any more
	t.Setenv("REDIS_URL", "redis://:hunter2@"+addr+"/0")

	var stdout, stderr bytes.Buffer
	code := run(testContext(t), []string{"demo", "-workers", "2", "-requests", "2"}, &stdout, &stderr)
	if code != exitFail {
		t.Errorf("exit status = %d, want %d", code, exitFail)
	}
	msg := stderr.String()
	for _, want := range []string{"cannot reach Redis", addr, "unset REDIS_URL"} {
		if !strings.Contains(msg, want) {
			t.Errorf("stderr lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "hunter2") {
		t.Errorf("stderr shows the Redis password:\n%s", msg)
	}
	if stdout.Len() != 0 {
		t.Errorf("demo ran although Redis is unreachable:\n%s", stdout.String())
	}
}

// TestRun checks the command line: subcommands, flags and exit statuses.
func TestRun(t *testing.T) {
	t.Setenv("REDIS_URL", "")
	for _, tc := range []struct {
		args     []string
		code     int
		stdout   string // a substring of stdout
		stderr   string // a substring of stderr
		noOutput bool   // stdout must stay empty
	}{
		{args: nil, code: exitUsage, stderr: "Usage: slotcache <command>", noOutput: true},
		{args: []string{"bogus"}, code: exitUsage, stderr: `unknown command "bogus"`, noOutput: true},
		{args: []string{"help"}, code: exitOK, stdout: "Commands:"},
		{args: []string{"demo", "-h"}, code: exitOK, stderr: "-load-latency", noOutput: true},
		{args: []string{"demo", "-workers", "0"}, code: exitUsage, stderr: "-workers must be positive", noOutput: true},
		{args: []string{"demo", "-ttl", "-1s"}, code: exitUsage, stderr: "-ttl must be positive", noOutput: true},
		{args: []string{"demo", "-nope"}, code: exitUsage, stderr: "flag provided but not defined", noOutput: true},
		{args: []string{"demo", "extra"}, code: exitUsage, stderr: `unexpected argument "extra"`, noOutput: true},
		{
			args: []string{"demo", "-workers", "4", "-requests", "50", "-slots", "3", "-load-latency", "1ms", "-ttl", "1m", "-uniform"},
			code: exitOK, stdout: "Invalidate(\"slot-0\")",
		},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(testContext(t), tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit status = %d, want %d\nstderr:\n%s", code, tc.code, stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tc.stdout, stdout.String())
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, stderr.String())
			}
			if tc.noOutput && stdout.Len() != 0 {
				t.Errorf("stdout should be empty:\n%s", stdout.String())
			}
		})
	}
}

// TestSummarize checks the nearest-rank percentiles.
func TestSummarize(t *testing.T) {
	if got := summarize(nil); got != (percentiles{}) {
		t.Errorf("summarize(nil) = %+v, want zero", got)
	}
	ds := make([]time.Duration, 100)
	for i := range ds {
		ds[len(ds)-1-i] = time.Duration(i+1) * time.Millisecond // 100ms..1ms, unsorted
	}
	want := percentiles{P50: 50 * time.Millisecond, P90: 90 * time.Millisecond, P99: 99 * time.Millisecond, Max: 100 * time.Millisecond}
	if got := summarize(ds); got != want {
		t.Errorf("summarize(1..100ms) = %+v, want %+v", got, want)
	}
	if got := summarize([]time.Duration{7}); got != (percentiles{7, 7, 7, 7}) {
		t.Errorf("summarize([7]) = %+v", got)
	}
}

// TestFmtDur checks the human-readable durations of the report.
func TestFmtDur(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                    "0ns",
		118 * time.Nanosecond:                "118ns",
		74900 * time.Nanosecond:              "74.9µs",
		78 * time.Microsecond:                "78µs",
		64050 * time.Microsecond:             "64.05ms",
		20 * time.Millisecond:                "20ms",
		1500 * time.Millisecond:              "1.5s",
		90*time.Second + 10*time.Millisecond: "90.01s",
	} {
		if got := fmtDur(d); got != want {
			t.Errorf("fmtDur(%d) = %q, want %q", d, got, want)
		}
	}
}
