package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestQuickRun runs every scenario at -quick sizes with -json and checks
// that each case produced comparable results.
func TestQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every scenario for a few seconds")
	}
	_, noRedis := exec.LookPath("redis-server")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"-quick", "-json", "-benchtime", "2ms", "-samples", "50"}, &stdout, &stderr)
	require.Equal(t, 0, code, "stderr:\n%s", stderr.String())
	assert.Contains(t, stderr.String(), "bench: [1/", "plain progress lines when stderr is not a terminal")

	var rep report
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &rep), stdout.String())
	assert.True(t, rep.Quick)
	assert.Positive(t, rep.Machine.Cores)

	byCase := map[string][]Result{}
	for _, r := range rep.Results {
		byCase[r.Case] = append(byCase[r.Case], r)
	}
	for _, name := range []string{"hits/1g", "hits/8g", "mix/90-10", "mix/75-25", "cold", "stampede/1000", "memory/2k", "hit-ratio/zipf"} {
		rs := byCase[name]
		require.NotEmpty(t, rs, "case %s", name)
		best := 0
		for _, r := range rs {
			assert.Empty(t, r.Err, "%s/%s", name, r.Contender)
			if r.Ratio == 1 {
				best++
			}
			// A quick memory figure can drown in the heap's noise (<= 0):
			// such a result is not ranked.
			if !r.Excluded && r.Metric > 0 {
				assert.GreaterOrEqual(t, r.Ratio, 1.0, "%s/%s", name, r.Contender)
			}
		}
		assert.Equal(t, 1, best, "one best in %s", name)
	}
	for _, name := range []string{"mix-redis/90-10", "invalidation"} {
		for _, r := range byCase[name] {
			if noRedis != nil {
				assert.Contains(t, r.Err, "skipped")
				continue
			}
			assert.Empty(t, r.Err, "%s/%s", name, r.Contender)
		}
	}
	for _, r := range byCase["stampede/1000"] {
		switch r.Contender {
		case "slotcache":
			assert.Equal(t, 1.0, r.Extra["loads/round"], "slotcache coalesces a stampede into one load")
		case "otter", "syncmap+singleflight":
			// A caller that missed just before the load ended may start
			// another one (singleflight's window); slow runs (-race) see it.
			assert.Less(t, r.Extra["loads/round"], 10.0, "%s coalesces a stampede", r.Contender)
		}
	}
	for _, r := range byCase["hit-ratio/zipf"] {
		if r.Contender == "slotcache" {
			assert.False(t, r.Excluded, "slotcache is bounded (WithMaxSlots) and ranked")
			assert.LessOrEqual(t, r.Extra["slots-held"], float64(rep.Config.RatioSize), "slotcache stays within its bound")
			assert.Positive(t, r.Extra["slots-held"])
		}
	}
	if noRedis == nil {
		for _, r := range byCase["invalidation"] {
			assert.Equal(t, 50.0, r.Extra["samples"], r.Contender)
		}
	}
	assert.NotEmpty(t, rep.Headline)
}

// TestRunFilterAndTable checks -run and the table output.
func TestRunFilterAndTable(t *testing.T) {
	var stdout, stderr bytes.Buffer
	file := filepath.Join(t.TempDir(), "out.json")
	code := run(t.Context(), []string{"-quick", "-benchtime", "1ms", "-run", "^hits/2g/(slotcache|otter)$", "-o", file}, &stdout, &stderr)
	require.Equal(t, 0, code, "stderr:\n%s", stderr.String())
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	var rep report
	require.NoError(t, json.Unmarshal(b, &rep))
	assert.Len(t, rep.Results, 2)
	out := stdout.String()
	assert.Contains(t, out, "hits/2g: parallel Gets")
	assert.Contains(t, out, "slotcache against the best peer")
	assert.NotContains(t, out, "ristretto")
	assert.NotContains(t, out, "mix/")
	assert.NotContains(t, stderr.String(), "redis-server", "no Redis started for local cases")
}

// TestFlags checks the command line errors.
func TestFlags(t *testing.T) {
	for _, args := range [][]string{{"-nope"}, {"-run", "("}, {"extra"}} {
		var stdout, stderr bytes.Buffer
		assert.Equal(t, 2, run(t.Context(), args, &stdout, &stderr), strings.Join(args, " "))
		assert.Empty(t, stdout.String())
	}
	var stdout, stderr bytes.Buffer
	assert.Equal(t, 0, run(t.Context(), []string{"-h"}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "-quick")
}

// TestComputeRatios checks ratios and the headline.
func TestComputeRatios(t *testing.T) {
	rs := []Result{
		{Case: "c", Contender: "slotcache", Metric: 30},
		{Case: "c", Contender: "otter", Metric: 20},
		{Case: "c", Contender: "ristretto", Metric: 40},
		{Case: "c", Contender: "broken", Err: "x"},
		{Case: "d", Contender: "slotcache", Metric: 1, Excluded: true},
		{Case: "d", Contender: "otter", Metric: 5},
	}
	computeRatios(rs)
	assert.InDelta(t, 1.5, rs[0].Ratio, 1e-9)
	assert.InDelta(t, 1.0, rs[1].Ratio, 1e-9)
	assert.InDelta(t, 2.0, rs[2].Ratio, 1e-9)
	assert.Zero(t, rs[3].Ratio)
	assert.Zero(t, rs[4].Ratio, "excluded results are not ranked")
	assert.InDelta(t, 1.0, rs[5].Ratio, 1e-9)

	hs := headlines([]caseInfo{{Name: "c"}, {Name: "d"}}, rs)
	require.Len(t, hs, 1, "no headline where slotcache is excluded")
	assert.Equal(t, "otter", hs[0].BestPeer)
	assert.InDelta(t, 1.5, hs[0].Ratio, 1e-9)
}

// TestSummarize checks the nearest-rank percentiles.
func TestSummarize(t *testing.T) {
	ds := make([]time.Duration, 1000)
	for i := range ds {
		ds[len(ds)-1-i] = time.Duration(i + 1)
	}
	l := summarize(ds)
	assert.Equal(t, latencies{N: 1000, P50: 500, P99: 990, P999: 999, Max: 1000, Mean: 500}, l)
	assert.Equal(t, latencies{}, summarize(nil))
}

// Ctrl-C (the context ending) still prints the report of what ran, marked
// interrupted, and exits with 130.
func TestInterruptedRunReports(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"-quick", "-json", "-run", "^hits/"}, &stdout, &stderr)
	require.Equal(t, exitInterrupted, code, "stderr:\n%s", stderr.String())
	var rep report
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &rep), stdout.String())
	assert.True(t, rep.Interrupted)
	assert.Contains(t, stderr.String(), "interrupted")
}
