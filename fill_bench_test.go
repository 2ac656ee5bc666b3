package slotcache

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slotcache/slotcache/internal/redistest"
)

// BenchmarkFillColdMiss4Engines measures one cold slot requested at the same
// moment on 4 engines (4 instances on one Redis), until all 4 have the
// value: with fill coordination (one load, followers woken by the commit
// notice) and without (each engine loads). loads/op is the number of
// loader calls per slot. The loader costs nothing, or sleeps to stand for
// a database query.
//
//	go test -run '^$' -bench FillColdMiss -benchtime 2000x .
func BenchmarkFillColdMiss4Engines(b *testing.B) {
	const engines = 4
	for _, cost := range []time.Duration{0, 2 * time.Millisecond} {
		for _, coordinated := range []bool{false, true} {
			name := fmt.Sprintf("loader=%v/uncoordinated", cost)
			if coordinated {
				name = fmt.Sprintf("loader=%v/coordinated", cost)
			}
			b.Run(name, func(b *testing.B) {
				srv := redistest.Start(b)
				ch := fmt.Sprintf("slotcache-bench:%s", b.Name())
				es := make([]*Engine, engines)
				for i := range es {
					opts := []Option{WithRedis(srv.Client(b)), WithChannel(ch), WithTTL(time.Hour)}
					if coordinated {
						opts = append(opts, WithFill(FillPolicy{}))
					}
					e, err := New(opts...)
					if err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() { _ = e.Close() })
					es[i] = e
				}
				ctx := context.Background()
				for _, e := range es {
					if err := e.WaitReady(ctx); err != nil {
						b.Fatal(err)
					}
				}
				var loads atomic.Int64
				load := func(_ context.Context, id string) (any, error) {
					loads.Add(1)
					if cost > 0 {
						time.Sleep(cost)
					}
					return id, nil
				}
				n := 0
				for b.Loop() {
					slot := fmt.Sprintf("slot-%d", n)
					n++
					var wg sync.WaitGroup
					for _, e := range es {
						wg.Go(func() {
							if _, err := e.Get(ctx, slot, load); err != nil {
								b.Error(err)
							}
						})
					}
					wg.Wait()
				}
				b.ReportMetric(float64(loads.Load())/float64(n), "loads/op")
				if coordinated {
					s := ftOutcomes(es...)
					b.ReportMetric(float64(s.FillFollowerPolled)/float64(n), "polled/op")
					b.ReportMetric(float64(s.FillFollowerWoken)/float64(n), "woken/op")
					b.ReportMetric(float64(s.FillSharedHits)/float64(n), "sharedhits/op")
				}
			})
		}
	}
}
