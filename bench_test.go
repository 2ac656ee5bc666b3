package slotcache

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchKeys are the 4096 slot IDs of the hit benchmarks.
var benchKeys = func() []string {
	k := make([]string, 4096)
	for i := range k {
		k[i] = "compat:provider-" + strconv.Itoa(i)
	}
	return k
}()

func identity(_ context.Context, id string) (any, error) { return id, nil }

// BenchmarkHit: parallel fresh hits over 4096 keys, the engine's hot path.
// Compare with otter v2's Get hit on the same machine (bench/ module).
func BenchmarkHit(b *testing.B) { benchHit(b, getAny) }

// BenchmarkHitGetAs: the typed helper on the same path.
func BenchmarkHitGetAs(b *testing.B) { benchHit(b, getString) }

// BenchmarkHitWithBehaviour: the same with refresh-ahead, stale serving and
// jitter configured: behaviours must not slow hits down.
func BenchmarkHitWithBehaviour(b *testing.B) {
	benchHit(b, getAny, WithTTL(time.Hour), WithBehaviour(Chain(
		NegativeTTL(time.Minute), JitterTTL(0.1), StaleWhileRevalidate(time.Minute), RefreshAhead(0.9),
	)))
}

// A getter returns whether it got key's value.
type getter func(ctx context.Context, e *Engine, key string) bool

func getAny(ctx context.Context, e *Engine, key string) bool {
	v, err := e.Get(ctx, key, identity)
	return err == nil && v != nil
}

func getString(ctx context.Context, e *Engine, key string) bool {
	v, err := GetAs(ctx, e, key, func(_ context.Context, id string) (string, error) { return id, nil })
	return err == nil && v != ""
}

func benchHit(b *testing.B, get getter, opts ...Option) {
	e, err := New(opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	runHits(b, e, get)
}

// runHits loads benchKeys into e, then times hits on them from every
// processor.
func runHits(b *testing.B, e *Engine, get getter) {
	ctx := context.Background()
	for _, k := range benchKeys {
		if !get(ctx, e, k) {
			b.Fatal("load failed")
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if !get(ctx, e, benchKeys[i&4095]) {
				b.Fatal("miss")
			}
			i++
		}
	})
}

// BenchmarkColdMiss: a Get on a slot never seen before: router spawn, slot
// actor, one loader goroutine, reply.
func BenchmarkColdMiss(b *testing.B) {
	e, err := New()
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	keys := make([]string, b.N)
	for i := range keys {
		keys[i] = "cold:" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.Get(ctx, keys[i], identity); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReload: a miss on a known slot after an invalidation: no spawn,
// just the slot actor and one load.
func BenchmarkReload(b *testing.B) {
	e, err := New()
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = e.Invalidate(ctx, "k")
		if _, err := e.Get(ctx, "k", identity); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStampede: 1000 callers on one just-invalidated slot per
// iteration, all released together; one loader call serves them.
// Compare with x/sync/singleflight's Do under the same load (bench/).
func BenchmarkStampede(b *testing.B) {
	e, err := New()
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	const callers = 1000
	var loads atomic.Int64
	load := func(context.Context, string) (any, error) {
		loads.Add(1)
		return 1, nil
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = e.Invalidate(ctx, "hot")
		var start, done sync.WaitGroup
		start.Add(1)
		done.Add(callers)
		for range callers {
			go func() {
				defer done.Done()
				start.Wait()
				if _, err := e.Get(ctx, "hot", load); err != nil {
					panic(err)
				}
			}()
		}
		start.Done()
		done.Wait()
	}
	b.StopTimer()
	b.ReportMetric(float64(loads.Load())/float64(b.N), "loads/op")
}
