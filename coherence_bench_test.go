package slotcache

import (
	"testing"
	"time"
)

// BenchmarkHitStalenessBound: BenchmarkHit with the staleness bound
// enforced and its watermark advancing as heartbeat echoes would move it
// (a local engine, so that only the hit path is measured).
func BenchmarkHitStalenessBound(b *testing.B) {
	e, err := New()
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	e.env.SetMaxStaleness(DefaultMaxStaleness)
	e.env.Watermark(e.env.Clock.Now())
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // the heartbeat echoes
		defer close(done)
		t := time.NewTicker(DefaultHeartbeat)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				e.env.Watermark(e.env.Clock.Now())
			}
		}
	}()
	defer func() { close(stop); <-done }()
	runHits(b, e, getAny)
}
