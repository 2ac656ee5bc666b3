package slotcache_test

import (
	"context"
	"fmt"
	"time"

	"github.com/slotcache/slotcache"
)

// Example shows the read-through cycle: concurrent misses share one load,
// hits are served from memory, and an invalidation makes the next Get load
// again.
func Example() {
	cache, err := slotcache.New(slotcache.WithTTL(time.Minute))
	if err != nil {
		panic(err)
	}
	defer cache.Close()

	ctx := context.Background()
	loads := 0
	load := func(_ context.Context, slotID string) (any, error) {
		loads++ // the engine calls this once per miss, never concurrently per slot
		return "config of " + slotID, nil
	}

	v, _ := cache.Get(ctx, "compat:deepseek", load)
	fmt.Println(v)
	v, _ = cache.Get(ctx, "compat:deepseek", load) // a hit
	fmt.Println(v, loads)

	_ = cache.Invalidate(ctx, "compat:deepseek") // after a write to the source
	_, _ = cache.Get(ctx, "compat:deepseek", load)
	fmt.Println(loads)
	// Output:
	// config of compat:deepseek
	// config of compat:deepseek 1
	// 2
}

// Token is a credential that knows when it expires.
type Token struct {
	Value  string
	Expiry time.Time
}

// tokenBehaviour caches each token until shortly before its own expiry,
// and never caches one that is about to expire.
type tokenBehaviour struct{ slotcache.Base }

func (tokenBehaviour) OnLoad(_ string, v any, d slotcache.Decision) slotcache.Decision {
	if tok, ok := v.(Token); ok {
		d.TTL = time.Until(tok.Expiry) - 5*time.Second // zero or less: not cached
		d.SharedTTL = d.TTL                            // nor kept longer in Redis (WithFill)
	}
	return d
}

// ExampleBehaviour writes a custom behaviour and combines it with built-in
// ones per slot-ID prefix: tokens live as long as they are valid, provider
// configs are refreshed ahead of expiry and served stale for a while if
// the database is down, and deleted slots are remembered briefly.
func ExampleBehaviour() {
	cache, err := slotcache.New(
		slotcache.WithTTL(time.Minute),
		slotcache.WithPrefixBehaviour("token:", tokenBehaviour{}),
		slotcache.WithPrefixBehaviour("compat:", slotcache.Chain(
			slotcache.NegativeTTL(5*time.Second),
			slotcache.JitterTTL(0.1),
			slotcache.StaleWhileRevalidate(10*time.Minute),
			slotcache.RefreshAhead(0.8),
		)),
	)
	if err != nil {
		panic(err)
	}
	defer cache.Close()

	ctx := context.Background()
	tok, _ := slotcache.GetAs(ctx, cache, "token:svc", func(context.Context, string) (Token, error) {
		return Token{Value: "t0k3n", Expiry: time.Now().Add(time.Hour)}, nil
	})
	fmt.Println(tok.Value, cache.Cached("token:svc"))

	expiring, _ := slotcache.GetAs(ctx, cache, "token:old", func(context.Context, string) (Token, error) {
		return Token{Value: "old", Expiry: time.Now().Add(time.Second)}, nil
	})
	fmt.Println(expiring.Value, cache.Cached("token:old"))
	// Output:
	// t0k3n true
	// old false
}
