package main

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/slotcache/slotcache"
)

// BenchmarkBulk: 100 keys of which 20 miss (invalidated before each
// round), read with slotcache's GetMany and a batch loader, with 100
// slotcache Gets, with otter's BulkGet and a bulk loader, and with 100
// otter Gets; against a free source and against one that takes 500 µs per
// call. Run: cd bench && go test -run '^$' -bench Bulk -benchmem.
func BenchmarkBulk(b *testing.B) {
	for _, src := range []time.Duration{0, 500 * time.Microsecond} {
		b.Run("source="+src.String(), func(b *testing.B) { benchBulk(b, src) })
	}
}

// bulkReader is one contender: read reads every key, invalidate makes key
// miss.
type bulkReader struct {
	read       func(ctx context.Context, keys []string) error
	invalidate func(ctx context.Context, key string)
	close      func()
}

func benchBulk(b *testing.B, source time.Duration) {
	const n, misses = 100, 20
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "bulk:" + strconv.Itoa(i)
	}
	query := func() {
		if source > 0 {
			time.Sleep(source)
		}
	}
	single := func(_ context.Context, key string) (string, error) { query(); return key, nil }
	batch := func(_ context.Context, keys []string) (map[string]string, error) {
		query()
		m := make(map[string]string, len(keys))
		for _, k := range keys {
			m[k] = k
		}
		return m, nil
	}
	contenders := []struct {
		name string
		make func(b *testing.B) bulkReader
	}{
		{"slotcache-GetMany", func(b *testing.B) bulkReader {
			return slotcacheBulk(b, single, slotcache.WithBatch[string](batch, 0), true)
		}},
		{"slotcache-Gets", func(b *testing.B) bulkReader { return slotcacheBulk(b, single, nil, false) }},
		{"otter-BulkGet", func(b *testing.B) bulkReader { return otterBulk(b, single, batch, true) }},
		{"otter-Gets", func(b *testing.B) bulkReader { return otterBulk(b, single, batch, false) }},
	}
	for _, c := range contenders {
		b.Run(c.name, func(b *testing.B) {
			r := c.make(b)
			defer r.close()
			ctx := context.Background()
			if err := r.read(ctx, keys); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := range misses {
					r.invalidate(ctx, keys[(i*misses+j)%n])
				}
				if err := r.read(ctx, keys); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func slotcacheBulk(b *testing.B, single func(context.Context, string) (string, error), opt slotcache.Option, many bool) bulkReader {
	e, err := slotcache.New(slotcache.WithTTL(time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	var opts []slotcache.Option
	if opt != nil {
		opts = append(opts, opt)
	}
	c, err := slotcache.NewCache(e, "bulk", single, opts...)
	if err != nil {
		b.Fatal(err)
	}
	r := bulkReader{
		invalidate: func(ctx context.Context, key string) { _ = c.Invalidate(ctx, key) },
		close:      func() { _ = e.Close() },
	}
	if many {
		r.read = func(ctx context.Context, keys []string) error { _, err := c.GetMany(ctx, keys); return err }
	} else {
		r.read = func(ctx context.Context, keys []string) error {
			for _, k := range keys {
				if _, err := c.Get(ctx, k); err != nil {
					return err
				}
			}
			return nil
		}
	}
	return r
}

func otterBulk(b *testing.B, single func(context.Context, string) (string, error), batch func(context.Context, []string) (map[string]string, error), bulk bool) bulkReader {
	c, err := otter.New(&otter.Options[string, string]{ExpiryCalculator: otter.ExpiryWriting[string, string](time.Hour)})
	if err != nil {
		b.Fatal(err)
	}
	loader, bulkLoader := otter.LoaderFunc[string, string](single), otter.BulkLoaderFunc[string, string](batch)
	r := bulkReader{
		invalidate: func(_ context.Context, key string) { c.Invalidate(key) },
		close:      func() {},
	}
	if bulk {
		r.read = func(ctx context.Context, keys []string) error { _, err := c.BulkGet(ctx, keys, bulkLoader); return err }
	} else {
		r.read = func(ctx context.Context, keys []string) error {
			for _, k := range keys {
				if _, err := c.Get(ctx, k, loader); err != nil {
					return err
				}
			}
			return nil
		}
	}
	return r
}
