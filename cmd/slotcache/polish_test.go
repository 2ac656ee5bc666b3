package main

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, exitOK, run(testContext(t), []string{"version"}, &stdout, &stderr))
	assert.Regexp(t, `^slotcache \S+.* go1\.\d+.* \w+/\w+\n$`, stdout.String())
	assert.Empty(t, stderr.String())
}

// bench takes its Redis from REDIS_URL, like demo: with several instances
// and no -redis flag, it tries the URL from the environment.
func TestBenchHonoursRedisURL(t *testing.T) {
	t.Setenv("REDIS_URL", "redis://127.0.0.1:1/0") // nothing listens on port 1
	var stdout, stderr bytes.Buffer
	code := run(testContext(t), []string{"bench", "-instances", "2", "-duration", "1s"}, &stdout, &stderr)
	assert.Equal(t, exitFail, code, "not a usage error: -instances 2 found a Redis URL")
	assert.Contains(t, stderr.String(), "127.0.0.1:1")
}

// Ctrl-C (the command's context ending) prints the partial report, marked
// as such, and exits with 130, the shell's status for SIGINT.
func TestBenchInterruptedPrintsPartialReport(t *testing.T) {
	ctx, cancel := context.WithCancel(testContext(t))
	cancel() // interrupted from the start: the run must still report
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"bench", "-duration", "1h", "-json", "-redis", ""}, &stdout, &stderr)
	require.Equal(t, exitInterrupted, code, "stderr: %s", stderr.String())
	var rep map[string]any
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &rep), stdout.String())
	assert.Equal(t, true, rep["interrupted"])
	assert.Contains(t, stderr.String(), "interrupted")
	assert.EqualValues(t, 0, rep["get_errors"], "an interrupted Get is not a failure")
}

// Every key of the -json report is snake_case, and every duration says
// its unit (_ns).
func TestBenchJSONKeyStyle(t *testing.T) {
	cfg := smallBench()
	rep, err := runBench(testContext(t), cfg, &bytes.Buffer{})
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, writeBenchJSON(&out, rep))
	var doc map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &doc))
	snake := regexp.MustCompile(`^[a-z0-9]+(_[a-z0-9]+)*$`)
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		for k, sub := range m {
			assert.Regexp(t, snake, k, "key %s%s", prefix, k)
			walk(prefix+k+".", sub)
		}
	}
	walk("", doc)
	cfgDoc := doc["config"].(map[string]any)
	assert.EqualValues(t, cfg.Duration.Nanoseconds(), cfgDoc["duration_ns"])
	assert.Contains(t, doc["latency"], "p99_ns")
}

// In plain mode the last progress line is printed once, even when a tick
// lands at the end of the run.
func TestBenchProgressLastLineOnce(t *testing.T) {
	var buf bytes.Buffer
	p := &benchProgress{w: &buf, total: 10 * time.Second, plainEvery: time.Second}
	for s := 1; s <= 10; s++ {
		p.update(time.Duration(s)*time.Second, int64(s), "")
	}
	p.finish(10*time.Second, 10, "")
	assert.Equal(t, 1, strings.Count(buf.String(), "10s / 10s"), buf.String())
	assert.Equal(t, 10, strings.Count(buf.String(), "\n"), "one line per second")
}
