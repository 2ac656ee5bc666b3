package slotcache

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// BenchmarkHitCache: a typed Cache[V] hit on the same path as BenchmarkHit
// (run them together: go test -bench 'Hit$|HitCache|HitGetAs').
func BenchmarkHitCache(b *testing.B) {
	e, err := New()
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	c, err := NewCache(e, "bench", func(_ context.Context, id string) (string, error) { return id, nil })
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, k := range benchKeys {
		if _, err := c.Get(ctx, k); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if v, err := c.Get(ctx, benchKeys[i&4095]); err != nil || v == "" {
				b.Fatal("miss")
			}
			i++
		}
	})
}

// BenchmarkMany: 100 IDs of which 20 miss (invalidated before each
// round, the same work in every variant), read with one GetMany and a
// batch loader, with GetMany and only a single loader, and with 100 Gets;
// against a free source (the engine's own cost) and against a source that
// takes 500 µs per call, like a query over the network.
func BenchmarkMany(b *testing.B) {
	for _, src := range []time.Duration{0, 500 * time.Microsecond} {
		b.Run("source="+src.String(), func(b *testing.B) { benchMany(b, src) })
	}
}

func benchMany(b *testing.B, source time.Duration) {
	const n, misses = 100, 20
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "many:" + strconv.Itoa(i)
	}
	query := func() {
		if source > 0 {
			time.Sleep(source)
		}
	}
	single := func(_ context.Context, id string) (string, error) { query(); return id, nil }
	batch := func(_ context.Context, ids []string) (map[string]string, error) {
		query()
		m := make(map[string]string, len(ids))
		for _, id := range ids {
			m[id] = id
		}
		return m, nil
	}
	variants := []struct {
		name string
		opts []Option
		read func(ctx context.Context, c *Cache[string]) error
	}{
		{"GetMany", []Option{WithBatch(batch, 0)}, func(ctx context.Context, c *Cache[string]) error {
			_, err := c.GetMany(ctx, keys)
			return err
		}},
		{"GetManyNoBatch", nil, func(ctx context.Context, c *Cache[string]) error {
			_, err := c.GetMany(ctx, keys)
			return err
		}},
		{"Gets", nil, func(ctx context.Context, c *Cache[string]) error {
			for _, k := range keys {
				if _, err := c.Get(ctx, k); err != nil {
					return err
				}
			}
			return nil
		}},
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			e, err := New()
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			c, err := NewCache(e, "many", single, v.opts...)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			if err := v.read(ctx, c); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := range misses {
					_ = c.Invalidate(ctx, keys[(i*misses+j)%n])
				}
				if err := v.read(ctx, c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
