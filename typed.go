package slotcache

import (
	"context"
	"fmt"
)

// GetAs is Get for callers that know the type of a slot's value: it needs
// no type assertion at the call site. A hit allocates nothing, as with Get.
// A cached nil is returned as V's zero value; a value of another type (the
// slot was filled by a caller with another V) is an error.
func GetAs[V any](ctx context.Context, e *Engine, slotID string, load func(ctx context.Context, slotID string) (V, error)) (V, error) {
	v, ok := e.hit(slotID)
	if !ok {
		if load == nil {
			var zero V
			return zero, fmt.Errorf("slotcache: GetAs %q: nil loader", slotID)
		}
		var err error
		v, err = e.miss(ctx, slotID, func(ctx context.Context, id string) (any, error) { return load(ctx, id) })
		if err != nil {
			var zero V
			return zero, err
		}
	}
	if v == nil {
		var zero V
		return zero, nil
	}
	typed, ok := v.(V)
	if !ok {
		return typed, fmt.Errorf("slotcache: slot %q holds a %T, not a %T", slotID, v, typed)
	}
	return typed, nil
}
