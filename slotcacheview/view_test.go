package slotcacheview_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache"
	"github.com/slotcache/slotcache/internal/browser"
	"github.com/slotcache/slotcache/internal/exporttest"
	"github.com/slotcache/slotcache/slotcacheview"
)

const wait = 30 * time.Second // a cold Chromium start on a busy 2-core box

// serve mounts the view under /debug/slotcache/ on a loopback server, the
// way the package doc shows, and returns the page's URL.
func serve(t *testing.T, e *slotcache.Engine) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/debug/slotcache/", http.StripPrefix("/debug/slotcache", slotcacheview.Handler(e)))
	return exporttest.Serve(t, mux) + "/debug/slotcache/"
}

// TestStatsJSON: stats.json reports the engine and its named caches with
// totals that survive Reset.
func TestStatsJSON(t *testing.T) {
	e := exporttest.Engine(t)
	users, err := slotcache.NewCache(e, "users", func(_ context.Context, id string) (string, error) { return id, nil })
	require.NoError(t, err)
	exporttest.Get(t, e, "a")
	exporttest.Get(t, e, "a")
	_, err = users.Get(context.Background(), "u")
	require.NoError(t, err)
	e.Reset()
	url := serve(t, e)

	resp, err := http.Get(url + "stats.json")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var v slotcacheview.View
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
	require.Len(t, v.Caches, 2)
	assert.Equal(t, "", v.Caches[0].Name)
	assert.Equal(t, uint64(1), v.Caches[0].Stats.Hits, "totals, not zeroed by Reset")
	assert.Equal(t, uint64(1), v.Caches[0].Stats.LoadLatency.Count())
	assert.Equal(t, "users", v.Caches[1].Name)
	assert.Len(t, v.Bounds, slotcache.HistogramBuckets-1)

	page, err := http.Get(url)
	require.NoError(t, err)
	body, err := io.ReadAll(page.Body)
	require.NoError(t, err)
	_ = page.Body.Close()
	assert.Contains(t, page.Header.Get("Content-Security-Policy"), "default-src 'none'")
	for _, external := range []string{"http://", "https://", "//cdn"} {
		assert.NotContains(t, string(body), external, "the page loads nothing from elsewhere")
	}
}

// TestPageInHeadlessChromium loads the page in a real headless Chromium:
// it renders without a console error, an exception or a failed or blocked
// resource (the CSP forbids anything not inline), and its numbers change
// when a burst of Gets hits the engine while it is open. With
// SLOTCACHE_SCREENSHOT=path it also saves a screenshot of a busy engine.
func TestPageInHeadlessChromium(t *testing.T) {
	path, err := browser.Find()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%v: CI must test the live view in a real browser", err)
		}
		t.Skipf("%v; run make test, which installs it", err)
	}
	e := exporttest.Engine(t)
	for i := range 10 {
		exporttest.Get(t, e, fmt.Sprint("warm-", i))
	}
	url := serve(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 2*wait)
	defer cancel()
	b, err := browser.Start(ctx, path, t.TempDir(), 1400, 610)
	require.NoError(t, err)
	defer b.Close()
	require.NoError(t, b.Navigate(ctx, url))

	text := func(id string) string {
		var s string
		// "" until the navigation has replaced about:blank with the page
		require.NoError(t, b.Eval(ctx, fmt.Sprintf("(document.getElementById(%q) || {}).textContent || \"\"", id), &s))
		return s
	}
	awaitText := func(id, want string) {
		t.Helper()
		deadline := time.Now().Add(wait)
		for text(id) != want {
			if time.Now().After(deadline) {
				t.Fatalf("#%s shows %q, want %q (page errors: %v)", id, text(id), want, b.Errors())
			}
			time.Sleep(20 * time.Millisecond) // polling the page: there is no event to await
		}
	}
	awaitText("loads", "10")
	require.Equal(t, "0", text("hits"))

	for i := range 200 {
		exporttest.Get(t, e, fmt.Sprint("burst-", i))
		exporttest.Get(t, e, fmt.Sprint("burst-", i))
	}
	awaitText("loads", "210")
	awaitText("hits", "200")
	assert.NotEqual(t, "–", text("p50"), "the latency histogram has data")
	var polls int
	require.NoError(t, b.Eval(ctx, "Number(document.body.dataset.polls)", &polls))
	assert.GreaterOrEqual(t, polls, 2, "the numbers changed through the page's own refresh")

	var viewErrors []string
	require.NoError(t, b.Eval(ctx, "window.viewErrors", &viewErrors))
	assert.Empty(t, viewErrors)
	assert.Empty(t, b.Errors(), "console errors, exceptions or failed resources")

	if out := os.Getenv("SLOTCACHE_SCREENSHOT"); out != "" {
		screenshot(ctx, t, b, e, out)
	}
}

// screenshot runs a mixed workload for a few seconds so that the charts
// have history, then saves the page as a PNG.
func screenshot(ctx context.Context, t *testing.T, b *browser.Browser, e *slotcache.Engine, out string) {
	stop := time.Now().Add(12 * time.Second)
	for i := 0; time.Now().Before(stop); i++ {
		id := fmt.Sprint("s", i%(50+i/200))
		_, _ = e.Get(ctx, id, func(context.Context, string) (any, error) {
			time.Sleep(time.Duration(1+i%7) * time.Millisecond) // a database read
			return id, nil
		})
		if i%40 == 0 {
			_ = e.Invalidate(ctx, id)
		}
	}
	png, err := b.Screenshot(ctx)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(png), "\x89PNG"))
	require.NoError(t, os.MkdirAll(filepath.Dir(out), 0o755))
	require.NoError(t, os.WriteFile(out, png, 0o644))
}
