// Package slotcacheview serves a live view of slotcache engines: one
// self-contained HTML page (no CDN, no external script: the machine it runs
// on may be offline) that polls the engine every second and charts its hit
// ratio, loads/s, local and remote invalidations/s, fill outcomes, live
// slots and the load-latency histogram, for the engine and each named
// cache. Mount it beside net/http/pprof:
//
//	mux.Handle("/debug/slotcache/", http.StripPrefix("/debug/slotcache", slotcacheview.Handler(engine)))
//
// It only reads: Engine.Totals for counters, so Engine.Reset shows as a
// pause, never as negative rates. It uses the standard library only.
package slotcacheview

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"time"

	"github.com/slotcache/slotcache"
	"github.com/slotcache/slotcache/internal/export"
)

//go:embed page.html
var page []byte

// Handler serves the page at its root ("/" once mounted) and the numbers it
// polls at "stats.json". Both answer GET and HEAD only.
func Handler(e *slotcache.Engine) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		// Everything the page needs is inline: nothing else may load.
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:")
		_, _ = w.Write(page)
	})
	mux.HandleFunc("GET /stats.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(Snapshot(e))
	})
	return mux
}

// View is what stats.json returns: the moment, the histogram bounds, and
// each cache's totals.
type View struct {
	// Time is when the snapshot was taken, in Unix milliseconds.
	Time int64 `json:"time"`
	// Bounds are the latency histograms' bucket bounds, in seconds.
	Bounds []float64 `json:"bounds"`
	// Caches are the engine (Name "") and its named caches.
	Caches []Cache `json:"caches"`
}

// Cache is one engine's numbers.
type Cache struct {
	// Name is the named cache's name, "" for the engine itself.
	Name string `json:"name"`
	// Redis reports that the engine has a Redis subscription.
	Redis bool `json:"redis"`
	// Stats are the engine's Totals.
	Stats slotcache.Stats `json:"stats"`
	// Resyncs counts flushes for possibly lost messages.
	Resyncs uint64 `json:"resyncs"`
}

// Snapshot returns the numbers of e and its named caches now.
func Snapshot(e *slotcache.Engine) View {
	v := View{Time: time.Now().UnixMilli()}
	for _, b := range slotcache.LatencyBounds() {
		v.Bounds = append(v.Bounds, b.Seconds())
	}
	for _, c := range e.AllTotals() {
		v.Caches = append(v.Caches, Cache{Name: c.Name, Redis: c.Redis, Stats: c.Totals, Resyncs: export.Resyncs(&c.Totals)})
	}
	return v
}
