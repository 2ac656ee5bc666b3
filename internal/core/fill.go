package core

import (
	"context"
	"time"
)

// FillSource says where a coordinated load's value came from, which is all
// the slot needs to decide, once, whether and how long to cache it.
type FillSource int

const (
	// LoadedHere: this instance called the loader (as the fill leader, or
	// locally after a follower's wait or a Redis error). The slot caches
	// the value as it would any load.
	LoadedHere FillSource = iota
	// SharedCopy: the value is another instance's, read from the shared
	// tier; it may be cached here at most for the copy's remaining life.
	SharedCopy
	// CommitRejected: this instance loaded as leader, but an invalidation
	// or a newer leader overtook it before it could share the value. The
	// value answers the load's waiters and is never cached, whatever the
	// slot's behaviour says.
	CommitRejected
)

// FillResult is what a coordinated load reports.
type FillResult struct {
	Value  any
	Err    error
	Source FillSource
	// Remaining is the shared copy's remaining life, for SharedCopy.
	Remaining time.Duration
}

// Share is how a fill leader shares a value: how long the shared copy
// lives, and from what age the fleet reloads it from the source (one
// instance, the winner of the slot's lease) so that it never expires in
// front of its readers. A zero TTL means "do not share"; a zero
// RefreshAfter means the copy is only reloaded once it expired.
type Share struct {
	TTL          time.Duration
	RefreshAfter time.Duration
}

// FillSlot is the slot a coordinated load runs for, as the Filler sees it
// from the load's goroutine. The slot's actor answers, so that the slot
// stays the one place that decides what is cached and for how long.
type FillSlot interface {
	// Share is asked by a fill leader, once its load succeeded, how to
	// share value. The slot runs its behaviour, which it then does not run
	// again for the same load.
	Share(value any) Share
	// Serve hands the slot a shared copy to cache and serve, with its
	// remaining life, while the same load goes on to reload it from the
	// source: this instance won the lease to refresh the copy, which was
	// due (see Share.RefreshAfter).
	Serve(value any, remaining time.Duration)
}

// Filler coordinates loads across instances through a shared tier (see
// WithFill in the root package). The slot actor's loader goroutine calls
// Load instead of the loader itself.
type Filler interface {
	// Load returns slotID's value, calling load at most once across
	// instances where it can, and says where the value came from. A leader
	// asks slot how to share the value before it commits. A panic in load
	// must propagate after the Filler cleaned up.
	Load(ctx context.Context, slotID string, load Loader, slot FillSlot) FillResult
	// Drop deletes the shared copy (and any lock) of slotID, or of every
	// slot when slotID is "*".
	Drop(ctx context.Context, slotID string) error
	// Filled tells the Filler that another instance committed slotID, so
	// that local followers stop waiting.
	Filled(slotID string)
	// Close releases the Filler's resources.
	Close()
}
