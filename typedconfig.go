package slotcache

import (
	"context"
	"fmt"
	"reflect"
)

// BatchLoader loads the values of several slots in one call (one SQL
// query with IN, one MGET...). It returns the values it found by slot ID;
// an ID missing from the map is a slot that does not exist: its value is
// nil, cached as the slot's behaviour decides for nil (NegativeTTL caches
// it briefly; the default caches it for the TTL like any value), and
// GetMany leaves it out of its result. An error fails every slot of the
// batch and is not cached; a panic fails them with a *PanicError and is
// reported once, as a Loader's is. ctx is a Loader's: the values of the
// GetMany that asked, cancelled at the load timeout and at Close, and
// Shutdown waits for the call to return.
type BatchLoader[V any] func(ctx context.Context, slotIDs []string) (map[string]V, error)

// DefaultMaxBatch is the largest batch WithBatch passes to its loader when
// its maxSize is zero.
const DefaultMaxBatch = 100

// typedConfig is the configuration only NewCache understands.
type typedConfig struct {
	batch    any // a BatchLoader[V] for the cache's V
	maxBatch int
}

// WithBatch gives a Cache made by NewCache a batch loader for GetMany:
// its misses go to load in batches of at most maxSize IDs (DefaultMaxBatch
// if zero). V must be the cache's value type. New rejects it: the default
// cache has no value type.
func WithBatch[V any](load BatchLoader[V], maxSize int) Option {
	return func(c *config) error {
		if load == nil {
			return &OptionError{Option: "WithBatch", Reason: "loader is nil"}
		}
		if maxSize < 0 {
			return &OptionError{Option: "WithBatch", Reason: fmt.Sprintf("maxSize must not be negative, got %d", maxSize)}
		}
		if maxSize == 0 {
			maxSize = DefaultMaxBatch
		}
		c.typed = typedConfig{batch: load, maxBatch: maxSize}
		return nil
	}
}

// checkUntyped rejects the options that only NewCache understands, for New.
func (c *config) checkUntyped() error {
	if c.typed.batch != nil {
		return &OptionError{Option: "WithBatch", Reason: errNamedOnly.Error(), Err: errNamedOnly}
	}
	return nil
}

// typedDefaults is the last option NewCache applies: it checks that the
// batch loader loads Vs, and makes the shared tier return Vs (JSONOf[V]
// instead of the untyped default codec), refusing any decoded value of
// another type, so that a wrong-typed shared copy is loaded locally
// instead of cached.
func typedDefaults[V any]() Option {
	return func(c *config) error {
		if c.typed.batch != nil {
			if _, ok := c.typed.batch.(BatchLoader[V]); !ok {
				return &OptionError{Option: "WithBatch", Reason: fmt.Sprintf("its loader returns %T, the cache holds %v", c.typed.batch, reflect.TypeFor[V]())}
			}
		}
		if c.fill != nil {
			p := *c.fill
			if _, untyped := p.Codec.(JSONCodec); untyped {
				p.Codec = JSONOf[V]()
			}
			p.Codec = checkedCodec[V]{p.Codec}
			c.fill = &p
		}
		return nil
	}
}

// checkedCodec decodes only Vs (or nil): a shared copy of another type is
// a decoding error, which the fill coordinator answers with a local load.
type checkedCodec[V any] struct{ Codec }

func (c checkedCodec[V]) Unmarshal(slotID string, data []byte) (any, error) {
	v, err := c.Codec.Unmarshal(slotID, data)
	if err != nil || v == nil {
		return v, err
	}
	if _, ok := v.(V); !ok {
		return nil, fmt.Errorf("%w: shared copy of slot %q decodes to %T, not %v", ErrWrongType, slotID, v, reflect.TypeFor[V]())
	}
	return v, nil
}

// loadOneByBatch is the loader of a cache that has only a batch loader.
func (c *Cache[V]) loadOneByBatch(ctx context.Context, id string) (any, error) {
	vals, err := c.batch(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	if v, ok := vals[id]; ok {
		return v, nil
	}
	return nil, nil
}
