package slotcache

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"testing"
	"time"
)

// BenchmarkSlots measures what a cached slot costs in memory (heap bytes
// per slot, after idle slot actors have passivated) and the hit latency at
// 10k, 100k and 1M cached slots. The 1M case takes about a minute to fill;
// it runs only with SLOTCACHE_BENCH_1M=1.
func BenchmarkSlots(b *testing.B) {
	sizes := []int{10_000, 100_000}
	if os.Getenv("SLOTCACHE_BENCH_1M") == "1" {
		sizes = append(sizes, 1_000_000)
	}
	for _, n := range sizes {
		b.Run("slots="+strconv.Itoa(n), func(b *testing.B) { benchSlots(b, n) })
	}
}

func benchSlots(b *testing.B, n int) {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "compat:provider-" + strconv.Itoa(i)
	}
	load := func(context.Context, string) (any, error) { return true, nil } // a value that costs nothing
	ctx := context.Background()

	before := heapInUse()
	e, err := New(WithTTL(time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	var wg sync.WaitGroup
	const workers = 16
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				if _, err := e.Get(ctx, keys[i], load); err != nil {
					panic(err)
				}
			}
		}()
	}
	wg.Wait()
	for e.Stats().Passivations < uint64(n) { // every slot actor has stopped
		time.Sleep(10 * time.Millisecond)
	}
	perSlot := float64(heapInUse()-before) / float64(n)
	if f := os.Getenv("SLOTCACHE_HEAP_PROFILE"); f != "" {
		if out, err := os.Create(f); err == nil {
			_ = pprof.WriteHeapProfile(out)
			_ = out.Close()
		}
	}

	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := e.Get(ctx, keys[(i*7919)%n], load); err != nil {
				panic(err)
			}
			i++
		}
	})
	b.StopTimer()
	b.ReportMetric(perSlot, "heapB/slot")
	if s := e.Stats(); s.Slots != uint64(n) {
		b.Fatal(fmt.Sprintf("%d slots cached, want %d", s.Slots, n))
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
