package slotcache

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slotcache/slotcache/internal/redistest"
)

// BenchmarkInvalidationStorm: Gets from 8 readers over 1000 warm slots
// (1 ms loader) while a raw go-redis client publishes invalidations from a
// foreign origin as fast as one connection can: of every slot ("all"), of
// one slot that half the reads ask for ("one"), or none ("quiet"), with
// damping off, at a fixed 5 ms window, and at the default bound. Each
// iteration reads for stormWindow after the storm has run for stormLead
// (the damping windows have grown by then); the metrics are rates over
// the reading, ns/op is meaningless. BENCHMARKS.md, "Invalidation storms".
func BenchmarkInvalidationStorm(b *testing.B) {
	for _, damping := range []time.Duration{0, 5 * time.Millisecond, DefaultInvalidationDamping} {
		for _, target := range []string{"quiet", "all", "one"} {
			b.Run(fmt.Sprintf("damping=%v/%s", damping, target), func(b *testing.B) {
				benchStorm(b, target, WithInvalidationDamping(damping))
			})
		}
	}
}

// stormLead is how long the storm runs before the readers are measured;
// stormWindow how long they are.
const (
	stormLead   = time.Second
	stormWindow = 4 * time.Second
)

func benchStorm(b *testing.B, target string, opts ...Option) {
	const slots = 1000
	srv := redistest.Start(b)
	ch := fmt.Sprintf("slotcache-bench:%d", rtSeq.Add(1))
	e, err := New(append([]Option{WithRedis(srv.Client(b)), WithChannel(ch), WithTTL(time.Hour)}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	if err := e.WaitReady(ctx); err != nil {
		b.Fatal(err)
	}
	var loads atomic.Int64
	load := func(_ context.Context, id string) (any, error) {
		loads.Add(1)
		time.Sleep(time.Millisecond)
		return id, nil
	}
	keys := make([]string, slots)
	for i := range keys {
		keys[i] = "s" + strconv.Itoa(i)
		if _, err := e.Get(ctx, keys[i], load); err != nil {
			b.Fatal(err)
		}
	}
	slot := "*"
	if target == "one" {
		slot = keys[0]
	}
	payload := `{"slotId":"` + slot + `","_origin":"storm"}`
	pub := srv.Client(b)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var published atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for target != "quiet" {
			select {
			case <-stop:
				return
			default:
			}
			if pub.Publish(ctx, ch, payload).Err() == nil {
				published.Add(1)
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	var gets, n, ld int64
	var el time.Duration
	for b.Loop() {
		stormReaders(ctx, b, e, keys, target, load, stormLead)
		loads0, pub0, start := loads.Load(), published.Load(), time.Now()
		gets += stormReaders(ctx, b, e, keys, target, load, stormWindow)
		el += time.Since(start)
		n += published.Load() - pub0
		ld += loads.Load() - loads0
	}
	st := e.Stats()
	b.ReportMetric(float64(gets)/el.Seconds(), "gets/s")
	b.ReportMetric(float64(ld)/el.Seconds(), "loads/s")
	b.ReportMetric(float64(n)/el.Seconds(), "msgs/s")
	b.ReportMetric(float64(st.DampFlushes), "flushes")
	b.ReportMetric(st.DampMaxDelay.Seconds()*1e3, "maxdelay-ms")
}

// stormReaders runs 8 readers for d and returns how many Gets they made:
// all over the slots, or, when one slot is flooded, half on it.
func stormReaders(ctx context.Context, b *testing.B, e *Engine, keys []string, target string, load Loader, d time.Duration) int64 {
	var gets atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(rand.Uint64(), 0))
			n := int64(0)
			for ; n&63 != 0 || time.Now().Before(deadline); n++ {
				k := keys[0]
				if target == "all" || r.IntN(2) == 0 {
					k = keys[r.IntN(len(keys))]
				}
				if _, err := e.Get(ctx, k, load); err != nil {
					b.Error(err)
					return
				}
			}
			gets.Add(n)
		}()
	}
	wg.Wait()
	return gets.Load()
}
