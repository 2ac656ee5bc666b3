package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/slotcache/slotcache"
	"github.com/slotcache/slotcache/slotcacheprom"
	"github.com/slotcache/slotcache/slotcacheview"
)

// startLive serves e's live view at / and its Prometheus metrics at
// /metrics on addr (-http), and prints where to w. stop shuts the server
// down.
func startLive(addr string, e *slotcache.Engine, w io.Writer) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("-http: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(slotcacheprom.NewCollector(e))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/", slotcacheview.Handler(e))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	fmt.Fprintf(w, "live view: http://%s/  (Prometheus metrics: http://%s/metrics)\n", ln.Addr(), ln.Addr())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			_ = srv.Close()
		}
		<-done
	}, nil
}

// keepBusy keeps the demo's workers calling Get, one every millisecond or
// so each, and invalidates a slot ten times a second, so that the live view
// has something to show, until ctx ends (Ctrl-C). It returns nil then.
func keepBusy(ctx context.Context, e *slotcache.Engine, cfg demoConfig, ids []string, load func(context.Context, string) (row, error), w io.Writer) error {
	fmt.Fprintf(w, "\nServing the live view until interrupted (Ctrl-C): %d workers keep calling Get,\n"+
		"and a slot is invalidated ten times a second.\n", cfg.Workers)
	var wg sync.WaitGroup
	for wk := range cfg.Workers {
		wg.Go(func() {
			pick := picker(cfg, uint64(wk)+1<<20)
			for ctx.Err() == nil {
				_, _ = slotcache.GetAs(ctx, e, ids[pick()], load)
				_ = sleep(ctx, time.Millisecond)
			}
		})
	}
	pick := picker(cfg, 1<<30)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if err := e.Invalidate(ctx, ids[pick()]); err != nil && !errors.Is(err, context.Canceled) {
				fmt.Fprintf(w, "invalidate: %v\n", err)
			}
		case <-ctx.Done():
			wg.Wait()
			return nil
		}
	}
}
