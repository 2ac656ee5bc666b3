// Package exporttest holds what the exporters' tests (slotcacheprom,
// slotcacheview, slotcacheotel) share: an engine closed with its test, a Get
// that loads its own ID, and a loopback HTTP server, the way a service
// mounts an exporter.
package exporttest

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/slotcache/slotcache"
)

// Engine returns a new engine with opts, closed when t ends.
func Engine(t testing.TB, opts ...slotcache.Option) *slotcache.Engine {
	t.Helper()
	e, err := slotcache.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// Get gets id from e, loading id itself on a miss, and fails t on an error.
func Get(t testing.TB, e *slotcache.Engine, id string) {
	t.Helper()
	if _, err := e.Get(context.Background(), id, func(context.Context, string) (any, error) { return id, nil }); err != nil {
		t.Fatalf("Get %q: %v", id, err)
	}
}

// Serve serves h on a loopback port until t ends, and returns its base URL
// ("http://127.0.0.1:port"). The server is closed and its goroutine waited
// for in t's cleanup, so goleak stays quiet.
func Serve(t testing.TB, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return "http://" + ln.Addr().String()
}
