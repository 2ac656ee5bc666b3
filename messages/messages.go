// Package messages defines what the engine sends to the router and slot
// actors. It is public only because the project's layout puts it at the
// top level; it is the engine's plumbing, not an API, and carries no
// compatibility promise.
//
// Requests carry a buffered reply channel instead of using protoactor
// futures: a caller can then select on its own context, a future costs a
// timer and a registry entry per call, and the actor never blocks on a
// reply.
package messages

import (
	"context"

	"github.com/slotcache/slotcache/internal/core"
)

// Result is the answer to a Get: the loaded value or the load's error.
type Result struct {
	Value any
	Err   error
}

// Get asks a slot actor for its value, loading it with Load if no fresh
// entry exists. Ctx is the caller's context: a load this Get starts sees
// its values (trace IDs, request-scoped loggers) but not its cancellation.
// Reply must have room for one value.
type Get struct {
	Ctx   context.Context
	Load  core.Loader
	Reply chan<- Result
	// Started, if set, is called by the slot's actor once it has handled
	// the request: true if the request started a load (so Load will be
	// called, unless a shared copy answers it), false if it joined a load
	// in flight or was answered from the entry. GetMany batches on it. It
	// runs in the actor and must not block.
	Started func(started bool)
}

// Invalidate tells a slot that its generation was bumped, so that it frees
// its entry and runs its behaviour's OnInvalidate. Readers miss at once
// without it: correctness does not depend on it.
type Invalidate struct{}

// InvalidateAll tells the router, which tells every slot holding an entry,
// that the epoch was bumped. Like Invalidate it frees memory and runs
// behaviours.
type InvalidateAll struct{}

// Route asks the router to deliver Msg to the actor of slot ID, binding
// one (and creating the slot, for a Get) if it has none. An Invalidate for
// a slot without an actor is handled by the router itself, without binding
// one unless the slot's behaviour reloads.
type Route struct {
	ID  string
	Msg any
}

// Refresh asks a slot to reload in the background because a hit found its
// entry past the refresh point or stale. The first hit to notice sends it,
// once per entry.
type Refresh struct{}

// RefreshRequest is the one Refresh value, so that sending it allocates no
// message on the hit path.
var RefreshRequest = &Refresh{}
