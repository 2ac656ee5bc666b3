package slotcache_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/slotcache/slotcache"
)

// Config is a provider configuration, as a service would load it from its
// database.
type Config struct {
	Model string
}

// ExampleNewCache binds a cache to its value type and loader: call sites
// pass a slot ID and get a *Config back.
func ExampleNewCache() {
	engine, err := slotcache.New(slotcache.WithChannel("myapp"))
	if err != nil {
		panic(err)
	}
	defer engine.Close() // closes its caches too

	loads := 0
	configs, err := slotcache.NewCache(engine, "configs", func(_ context.Context, id string) (*Config, error) {
		loads++
		return &Config{Model: strings.TrimPrefix(id, "compat:")}, nil
	}, slotcache.WithTTL(time.Minute))
	if err != nil {
		panic(err)
	}

	ctx := context.Background()
	cfg, _ := configs.Get(ctx, "compat:deepseek")
	fmt.Println(cfg.Model, configs.Channel())
	cfg, _ = configs.Get(ctx, "compat:deepseek") // a hit
	_, cached := configs.Peek("compat:other")    // never loads
	fmt.Println(cfg.Model, loads, cached)
	// Output:
	// deepseek myapp:configs
	// deepseek 1 false
}

// ExampleCache_GetMany loads the misses of many slots with one call of a
// batch loader; an ID the batch loader leaves out does not exist.
func ExampleCache_GetMany() {
	engine, err := slotcache.New()
	if err != nil {
		panic(err)
	}
	defer engine.Close()

	db := map[string]string{"1": "ada", "2": "grace", "3": "edsger"}
	users, err := slotcache.NewCache[string](engine, "users", nil,
		slotcache.WithBatch(func(_ context.Context, ids []string) (map[string]string, error) {
			sorted := append([]string(nil), ids...)
			sort.Strings(sorted)
			fmt.Println("query", sorted) // one query for every miss
			found := make(map[string]string, len(ids))
			for _, id := range ids {
				if name, ok := db[id]; ok {
					found[id] = name
				}
			}
			return found, nil
		}, 100),
		slotcache.WithBehaviour(slotcache.NegativeTTL(5*time.Second)), // remember "not found" briefly
	)
	if err != nil {
		panic(err)
	}

	ctx := context.Background()
	_, _ = users.Get(ctx, "1") // a query of its own
	got, _ := users.GetMany(ctx, []string{"1", "2", "3", "4"})
	fmt.Println(len(got), got["2"], got["3"])
	_, found := got["4"]
	fmt.Println(found, users.Cached("4"))
	// Output:
	// query [1]
	// query [2 3 4]
	// 3 grace edsger
	// false true
}

// ExampleCache_Set writes through after a write to the source: the new
// value is served here at once and other instances drop theirs.
func ExampleCache_Set() {
	engine, err := slotcache.New()
	if err != nil {
		panic(err)
	}
	defer engine.Close()

	db := map[string]string{"greeting": "hello"}
	texts, err := slotcache.NewCache(engine, "texts", func(_ context.Context, id string) (string, error) {
		return db[id], nil
	})
	if err != nil {
		panic(err)
	}

	ctx := context.Background()
	v, _ := texts.Get(ctx, "greeting")
	fmt.Println(v)
	db["greeting"] = "bonjour" // the write to the source...
	if err := texts.Set(ctx, "greeting", "bonjour"); err != nil {
		panic(err) // ...then the cache: cached here, dropped elsewhere
	}
	v, _ = texts.Peek("greeting")
	fmt.Println(v)
	// Output:
	// hello
	// bonjour
}

// ExampleEngine_Shutdown bounds Close by a deadline of your own, for a
// service with a shutdown budget.
func ExampleEngine_Shutdown() {
	engine, err := slotcache.New()
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fmt.Println(engine.Shutdown(ctx))
	// Output:
	// <nil>
}

// ExampleOptionError finds which options were wrong without matching
// text: New reports every bad option at once, each an *OptionError.
func ExampleOptionError() {
	_, err := slotcache.New(slotcache.WithTTL(0), slotcache.WithMaxSlots(-1))
	var optErr *slotcache.OptionError
	if errors.As(err, &optErr) {
		fmt.Println(optErr.Option, "-", optErr.Reason)
	}
	fmt.Println(strings.Count(err.Error(), "\n") + 1) // one line per bad option
	// Output:
	// WithTTL - must be positive, got 0s
	// 2
}

// ExampleGetAs shows ErrWrongType: a slot of the default cache read with
// another type than it holds. The value is dropped, so the next call loads
// the right type.
func ExampleGetAs() {
	engine, err := slotcache.New()
	if err != nil {
		panic(err)
	}
	defer engine.Close()

	ctx := context.Background()
	_, _ = engine.Get(ctx, "answer", func(context.Context, string) (any, error) { return 42, nil })
	_, err = slotcache.GetAs(ctx, engine, "answer", func(context.Context, string) (string, error) { return "42", nil })
	fmt.Println(errors.Is(err, slotcache.ErrWrongType))
	fmt.Println(err)
	s, _ := slotcache.GetAs(ctx, engine, "answer", func(context.Context, string) (string, error) { return "42", nil })
	fmt.Println(s)
	// Output:
	// true
	// slotcache: wrong type: slot "answer" holds int, not string
	// 42
}
