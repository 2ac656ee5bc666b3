package slotcache

import (
	"context"
	"errors"
	"fmt"
	"reflect"
)

// ErrWrongType is returned when a slot holds a value of another type than
// the caller asked for (GetAs with two types on one slot, or a shared-tier
// codec that decodes into another type). The error wraps it with the slot
// and both types; match it with errors.Is. The wrong-typed value is
// dropped here at once, so it is never served again as a hit.
var ErrWrongType = errors.New("slotcache: wrong type")

// GetAs is Get for callers of the engine's default cache that know the
// type of a slot's value: it needs no type assertion at the call site. A
// hit allocates nothing, as with Get. A cached nil is returned as V's zero
// value; a value of another type is ErrWrongType. A Cache made by NewCache
// binds V and the loader once instead, and is the better fit when every
// slot of a cache holds a V.
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
	return typedValue[V](e, slotID, v)
}

// typedValue returns v as a V: a nil v is V's zero value; a v of another
// type is ErrWrongType, and the slot's entry is dropped locally (no
// publish, the shared copy stays) so that a wrong-typed value does not stay
// cached until its TTL.
func typedValue[V any](e *Engine, slotID string, v any) (V, error) {
	if v == nil {
		var zero V
		return zero, nil
	}
	t, ok := v.(V)
	if !ok {
		e.invalidateLocal(slotID)
		return t, fmt.Errorf("%w: slot %q holds %T, not %v", ErrWrongType, slotID, v, reflect.TypeFor[V]())
	}
	return t, nil
}
