package core

import (
	"context"
	"time"
)

// Filler coordinates loads across instances through a shared tier (see
// WithFill in the root package). The slot actor's loader goroutine calls
// Load instead of the loader itself; the engine calls Drop before it
// publishes an invalidation, so no instance refills itself from a stale
// shared copy.
type Filler interface {
	// Load returns slotID's value, loading it with load at most once across
	// instances where it can. ttl is how long the value stays fresh here
	// (the remaining lifetime of the shared copy); zero means the engine's
	// TTL. A panic in load must propagate after the Filler cleaned up.
	Load(ctx context.Context, slotID string, load func(context.Context, string) (any, error)) (value any, ttl time.Duration, err error)
	// Drop deletes the shared copy (and any lock) of slotID, or of every
	// slot when slotID is "*".
	Drop(ctx context.Context, slotID string) error
	// Filled tells the Filler that another instance committed slotID, so
	// that local followers stop waiting.
	Filled(slotID string)
	// Close releases the Filler's resources.
	Close()
}
