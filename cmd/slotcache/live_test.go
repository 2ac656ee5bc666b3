package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer a running command writes to while the
// test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// await polls f until it returns true or the test times out.
func await(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func fetch(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return string(body)
}

// TestDemoServesLiveView: demo -http serves the live view and Prometheus
// metrics of its engine, keeps its workers busy after the report so that
// the numbers move, and exits cleanly when interrupted.
func TestDemoServesLiveView(t *testing.T) {
	t.Setenv("REDIS_URL", "")
	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	var stdout, stderr lockedBuffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"demo", "-http", "127.0.0.1:0", "-workers", "4", "-requests", "50", "-slots", "5", "-load-latency", "1ms"}, &stdout, &stderr)
	}()
	addr := regexp.MustCompile(`live view: (http://127\.0\.0\.1:\d+/)`)
	await(t, "the live view's address", func() bool { return addr.MatchString(stdout.String()) })
	base := addr.FindStringSubmatch(stdout.String())[1]
	await(t, "the demo's report", func() bool { return strings.Contains(stdout.String(), "until interrupted") })

	page := fetch(t, base)
	if !strings.Contains(page, "<title>slotcache live view</title>") {
		t.Errorf("/ is not the live view:\n%.200s", page)
	}
	loads := regexp.MustCompile(`(?m)^slotcache_loads_total\{cache=""\} (\d+)$`)
	first := loads.FindStringSubmatch(fetch(t, base+"metrics"))
	if first == nil {
		t.Fatalf("/metrics lacks slotcache_loads_total")
	}
	// Invalidations go on after the report, so loads keep coming.
	await(t, "more loads after the report", func() bool {
		m := loads.FindStringSubmatch(fetch(t, base+"metrics"))
		return m != nil && m[1] != first[1]
	})
	cancel()
	select {
	case c := <-code:
		if c != exitOK {
			t.Errorf("exit status = %d, want %d; stderr:\n%s", c, exitOK, stderr.String())
		}
	case <-time.After(testTimeout):
		t.Fatal("the demo did not stop when interrupted")
	}
}

// TestBenchServesLiveView: bench -http serves instance 0's numbers while
// the load runs.
func TestBenchServesLiveView(t *testing.T) {
	var stdout, stderr lockedBuffer
	code := make(chan int, 1)
	go func() {
		code <- run(testContext(t), []string{"bench", "-http", "127.0.0.1:0", "-duration", "2s", "-keys", "20", "-workers", "2", "-load-latency", "1ms"}, &stdout, &stderr)
	}()
	addr := regexp.MustCompile(`live view: (http://127\.0\.0\.1:\d+/)`)
	await(t, "the live view's address", func() bool { return addr.MatchString(stderr.String()) })
	base := addr.FindStringSubmatch(stderr.String())[1]
	if !strings.Contains(fetch(t, base+"stats.json"), `"caches"`) {
		t.Error("stats.json lacks the caches")
	}
	if c := <-code; c != exitOK {
		t.Errorf("exit status = %d, want %d; stderr:\n%s", c, exitOK, stderr.String())
	}
}
