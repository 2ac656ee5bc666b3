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

// page is the live view open in a real headless Chromium.
type page struct {
	t   *testing.T
	ctx context.Context
	b   *browser.Browser
}

// openPage serves e's view and opens it in headless Chromium, or skips the
// test where there is none (outside CI). Everything is closed with t.
func openPage(t *testing.T, e *slotcache.Engine) *page {
	t.Helper()
	path, err := browser.Find()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%v: CI must test the live view in a real browser", err)
		}
		t.Skipf("%v; run make test, which installs it", err)
	}
	url := serve(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 2*wait)
	t.Cleanup(cancel)
	b, err := browser.Start(ctx, path, t.TempDir(), 1400, 610)
	require.NoError(t, err)
	t.Cleanup(b.Close)
	require.NoError(t, b.Navigate(ctx, url))
	return &page{t: t, ctx: ctx, b: b}
}

// eval evaluates expr in the page into out.
func (p *page) eval(expr string, out any) {
	p.t.Helper()
	require.NoError(p.t, p.b.Eval(p.ctx, expr, out))
}

// text is the text of the element with id, "" until the navigation has
// replaced about:blank with the page.
func (p *page) text(id string) string {
	p.t.Helper()
	var s string
	p.eval(fmt.Sprintf("(document.getElementById(%q) || {}).textContent || \"\"", id), &s)
	return s
}

// await polls the page until f holds: the page's own refresh is what
// changes it, and there is no event to await.
func (p *page) await(what string, f func() bool) {
	p.t.Helper()
	deadline := time.Now().Add(wait)
	for !f() {
		if time.Now().After(deadline) {
			p.t.Fatalf("the page never showed %s (page errors: %v)", what, p.b.Errors())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// awaitText waits until the element with id shows want.
func (p *page) awaitText(id, want string) {
	p.t.Helper()
	p.await(fmt.Sprintf("#%s = %q (it shows %q)", id, want, p.text(id)), func() bool { return p.text(id) == want })
}

// noErrors checks that the page reported nothing wrong.
func (p *page) noErrors() {
	p.t.Helper()
	var viewErrors []string
	p.eval("window.viewErrors", &viewErrors)
	assert.Empty(p.t, viewErrors)
	assert.Empty(p.t, p.b.Errors(), "console errors, exceptions or failed resources")
}

// TestPageInHeadlessChromium loads the page in a real headless Chromium:
// it renders without a console error, an exception or a failed or blocked
// resource (the CSP forbids anything not inline), and its numbers change
// when a burst of Gets hits the engine while it is open. With
// SLOTCACHE_SCREENSHOT=path it also saves a screenshot of a busy engine.
func TestPageInHeadlessChromium(t *testing.T) {
	e := exporttest.Engine(t)
	for i := range 10 {
		exporttest.Get(t, e, fmt.Sprint("warm-", i))
	}
	p := openPage(t, e)
	p.awaitText("loads", "10")
	require.Equal(t, "0", p.text("hits"))

	for i := range 200 {
		exporttest.Get(t, e, fmt.Sprint("burst-", i))
		exporttest.Get(t, e, fmt.Sprint("burst-", i))
	}
	p.awaitText("loads", "210")
	p.awaitText("hits", "200")
	assert.NotEqual(t, "–", p.text("p50"), "the latency histogram has data")
	var polls int
	p.eval("Number(document.body.dataset.polls)", &polls)
	assert.GreaterOrEqual(t, polls, 2, "the numbers changed through the page's own refresh")
	p.noErrors()

	if out := os.Getenv("SLOTCACHE_SCREENSHOT"); out != "" {
		screenshot(p.ctx, t, p.b, e, out)
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

// TestPageShowsNamedCaches: the page lists the engine's named caches,
// shows the one picked in its selector, follows caches as they close and
// open, and goes back to the engine when the one it showed closes.
func TestPageShowsNamedCaches(t *testing.T) {
	e := exporttest.Engine(t)
	for i := range 10 {
		exporttest.Get(t, e, fmt.Sprint("e-", i))
	}
	open := func(name string, loads int) *slotcache.Cache[string] {
		c, err := slotcache.NewCache(e, name, func(_ context.Context, id string) (string, error) { return id, nil })
		require.NoError(t, err)
		for i := range loads {
			_, err := c.Get(context.Background(), fmt.Sprint(name, i))
			require.NoError(t, err)
		}
		return c
	}
	users := open("users", 5)
	p := openPage(t, e)
	options := func() string {
		var s string
		p.eval(`Array.from(document.getElementById("cache").options).map(function (o) { return o.value || "(engine)"; }).join(",")`, &s)
		return s
	}
	selected := func() string {
		var s string
		p.eval(`document.getElementById("cache").value || "(engine)"`, &s)
		return s
	}
	p.awaitText("loads", "10")
	require.Equal(t, "(engine),users", options())

	var ok bool
	p.eval(`(function () { var s = document.getElementById("cache"); s.value = "users"; s.dispatchEvent(new Event("change")); return true; })()`, &ok)
	p.awaitText("loads", "5")
	for i := range 20 {
		_, err := users.Get(context.Background(), fmt.Sprint("burst-", i))
		require.NoError(t, err)
	}
	p.awaitText("loads", "25")

	require.NoError(t, users.Close())
	open("orders", 3)
	p.await("the caches now open", func() bool { return options() == "(engine),orders" })
	p.awaitText("loads", "10")
	assert.Equal(t, "(engine)", selected(), "the page went back to the engine when users closed")
	p.noErrors()
}
