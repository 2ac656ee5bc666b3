package main

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/internal/redistest"
)

// smallBench is a bench configuration that runs in a fraction of a second.
func smallBench() benchConfig {
	cfg := defaultBenchConfig()
	cfg.Workers = 4
	cfg.Keys = 50
	cfg.Duration = 300 * time.Millisecond
	cfg.LoadLatency = 100 * time.Microsecond
	cfg.InvalidateRate = 200
	return cfg
}

// checkCounts checks what holds for every bench report.
func checkCounts(t *testing.T, cfg benchConfig, rep benchReport) {
	t.Helper()
	assert.Positive(t, rep.Gets)
	assert.Zero(t, rep.GetErrors)
	assert.Equal(t, uint64(rep.Gets), rep.Hits+rep.Misses, "every workload Get is a hit or a miss")
	assert.Positive(t, rep.LoaderCalls)
	assert.LessOrEqual(t, uint64(rep.LoaderCalls)+rep.Coalesced, rep.Misses, "loads and joined loads come from misses")
	assert.GreaterOrEqual(t, rep.Wall, cfg.Duration)
	assert.InDelta(t, float64(rep.Gets)/rep.Wall.Seconds(), rep.GetsPerSec, 1e-6)
	assert.InDelta(t, float64(rep.Hits)/float64(rep.Gets), rep.HitRatio, 1e-9)
	l := rep.Latency
	assert.Positive(t, l.N)
	assert.True(t, l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max, "ordered: %+v", l)
	assert.Positive(t, rep.Invalidations, "instance 0 invalidated at %g/s", cfg.InvalidateRate)
	assert.Zero(t, rep.PublishErrors)
}

// TestBenchLocal runs the load test on one local engine.
func TestBenchLocal(t *testing.T) {
	cfg := smallBench()
	var progress bytes.Buffer
	rep, err := runBench(testContext(t), cfg, &progress)
	require.NoError(t, err)
	checkCounts(t, cfg, rep)
	assert.Nil(t, rep.Lag, "no lag without other instances")
	assert.Empty(t, rep.Applied)
	assert.Contains(t, progress.String(), "bench: ", "plain progress lines when not on a terminal")
	assert.NotContains(t, progress.String(), "\r")

	var out bytes.Buffer
	require.NoError(t, printBench(&out, rep))
	for _, want := range []string{"local engine, no Redis", "throughput", "hit ratio", "loader calls", "p99.9", "all Gets (1 in 8 timed)"} {
		assert.Contains(t, out.String(), want)
	}
	assert.NotContains(t, out.String(), "invalidation lag")
}

// TestBenchCrossInstance runs three instances on a real redis-server and
// checks the invalidation lag and delivery counts.
func TestBenchCrossInstance(t *testing.T) {
	s := redistest.Start(t)
	cfg := smallBench()
	cfg.RedisURL = "redis://:secret@" + s.Addr() + "/0"
	cfg.Instances = 3
	cfg.Duration = 500 * time.Millisecond
	rep, err := runBench(testContext(t), cfg, &bytes.Buffer{})
	require.NoError(t, err)
	checkCounts(t, cfg, rep)
	require.NotNil(t, rep.Lag)
	assert.Positive(t, rep.Lag.Probes)
	assert.Zero(t, rep.Lag.Lost)
	assert.Equal(t, uint64(2*rep.Lag.Probes), rep.Lag.Latency.N, "one lag per other instance and probe")
	assert.Less(t, rep.Lag.Latency.Max, lagTimeout)
	require.Len(t, rep.Applied, 3)
	assert.Zero(t, rep.Applied[0], "instance 0 skips its own echoes")
	for i := 1; i < 3; i++ {
		// Every probe reached it; the last workload invalidations may still
		// have been in flight when the counters were read.
		assert.GreaterOrEqual(t, rep.Applied[i], uint64(rep.Lag.Probes))
		assert.LessOrEqual(t, rep.Applied[i], uint64(rep.Lag.Probes)+uint64(rep.Invalidations))
		assert.Equal(t, uint64(1), rep.Subscriptions[i])
	}
	assert.True(t, strings.HasPrefix(rep.Channel, "slotcache:bench:"), "a throwaway channel: %q", rep.Channel)
	assert.NotContains(t, rep.Config.RedisURL, "secret", "the password is redacted")

	var out bytes.Buffer
	require.NoError(t, printBench(&out, rep))
	for _, want := range []string{"invalidation lag", "probes", rep.Channel, "#2:"} {
		assert.Contains(t, out.String(), want)
	}
	assert.NotContains(t, out.String(), "secret")
}

// TestBenchCommand checks the bench command line: flags, errors and JSON.
func TestBenchCommand(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"bench", "-h"}, exitOK, "-load-latency"},
		{[]string{"bench", "-instances", "2"}, exitUsage, "-instances > 1 needs -redis"},
		{[]string{"bench", "-zipf", "1"}, exitUsage, "-zipf must be greater than 1"},
		{[]string{"bench", "-keys", "0"}, exitUsage, "-keys must be positive"},
		{[]string{"bench", "-duration", "0s"}, exitUsage, "-duration must be positive"},
		{[]string{"bench", "-invalidate-rate", "-1"}, exitUsage, "-invalidate-rate must not be negative"},
		{[]string{"bench", "extra"}, exitUsage, `unexpected argument "extra"`},
		{[]string{"bench", "-redis", "redis://127.0.0.1:1/0", "-duration", "1s"}, exitFail, "cannot reach Redis"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			assert.Equal(t, tc.code, run(testContext(t), tc.args, &stdout, &stderr), stderr.String())
			assert.Contains(t, stderr.String(), tc.stderr)
			assert.Empty(t, stdout.String())
		})
	}

	var stdout, stderr bytes.Buffer
	code := run(testContext(t), []string{"bench", "-json", "-duration", "200ms", "-keys", "20", "-zipf", "0",
		"-workers", "2", "-load-latency", "0s", "-invalidate-rate", "0"}, &stdout, &stderr)
	require.Equal(t, exitOK, code, stderr.String())
	var rep benchReport
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &rep), stdout.String())
	assert.Positive(t, rep.Gets)
	assert.Zero(t, rep.Invalidations)
	assert.LessOrEqual(t, rep.LoaderCalls, int64(20), "without invalidations, each key loads once")
	assert.Equal(t, 20, rep.Config.Keys)
}

// TestHistogram checks that percentiles are within the bucket precision.
func TestHistogram(t *testing.T) {
	prev := -1
	for v := uint64(0); v < 1<<20; v += 1 + v/50 {
		b := bucketOf(v)
		require.GreaterOrEqual(t, b, prev, "buckets are monotonic (v=%d)", v)
		prev = b
		mid := float64(bucketMid(b))
		assert.InEpsilon(t, float64(v)+1, mid+1, 1.0/32, "v=%d bucket %d mid %v", v, b, mid)
	}
	assert.Equal(t, histBuckets-1, bucketOf(1<<62), "huge values land in the last bucket")

	var h, a, b histogram
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 100_000 {
		d := time.Duration(r.IntN(1_000_000)) // uniform over [0, 1ms)
		h.record(d)
		if i%2 == 0 {
			a.record(d)
		} else {
			b.record(d)
		}
	}
	s := h.summary()
	assert.Equal(t, uint64(100_000), s.N)
	for _, c := range []struct {
		got  time.Duration
		want float64
	}{{s.P50, 500_000}, {s.P90, 900_000}, {s.P99, 990_000}, {s.P999, 999_000}} {
		assert.InEpsilon(t, c.want, float64(c.got), 0.04)
	}
	a.merge(&b)
	assert.Equal(t, s, a.summary(), "merging per-worker histograms loses nothing")
	assert.Equal(t, latencySummary{}, (&histogram{}).summary())
}

// TestBenchProgress checks the plain progress lines and the counts.
func TestBenchProgress(t *testing.T) {
	var buf bytes.Buffer
	p := newBenchProgress(&buf, 10*time.Second)
	assert.False(t, p.tty)
	p.update(500*time.Millisecond, 100, "x")
	assert.Empty(t, buf.String(), "plain lines come at most once a second")
	p.update(1500*time.Millisecond, 3000, "hit 99%")
	assert.Equal(t, "bench: 1.5s / 10s  3000 Gets (2000/s)  hit 99%\n", buf.String())
	p.update(2*time.Second, 4000, "y")
	assert.NotContains(t, buf.String(), "y\n", "the next line comes a second later")
	p.finish(2100*time.Millisecond, 4200, "final")
	assert.Contains(t, buf.String(), "bench: 2.1s / 10s  4200 Gets (2000/s)  final\n", "the final state is always shown")
	assert.Equal(t, "1.23M", humanCount(1_234_567))
	assert.Equal(t, "12.3k", humanCount(12_345))
	assert.Equal(t, "999", humanCount(999))
}
