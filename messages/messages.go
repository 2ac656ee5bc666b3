// Package messages defines what the engine, the router actor and the slot
// actors say to each other. Requests carry a buffered reply channel instead of
// using protoactor futures: a caller can then select on its own context, a
// future costs a timer and a registry entry per call, and the actor never
// blocks on a reply.
package messages

import (
	"context"
	"time"

	"github.com/slotcache/slotcache/internal/core"
)

// Loader loads a slot's value on a miss. It is the engine's Loader without the
// named type, so this package does not import the root package.
type Loader = func(ctx context.Context, slotID string) (any, error)

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
	Load  Loader
	Reply chan<- Result
}

// LoadDone reports the end of the loader goroutine of flight Flight.
// Panic is non-nil when the loader panicked; Err then describes the panic.
type LoadDone struct {
	Flight uint64
	Value  any
	TTL    time.Duration // from the shared tier; zero: the engine's TTL
	Err    error
	Panic  any
}

// LoadTimedOut tells a slot that flight Flight ran past the load timeout or
// that the engine closed while it ran.
type LoadTimedOut struct {
	Flight uint64
	Cause  error
}

// Invalidate tells a slot that its generation was bumped, so it can free
// its entry and stop its expiry timer. Correctness does not depend on it.
type Invalidate struct{}

// InvalidateAll tells the router, which tells every slot, that the epoch was
// bumped. Like Invalidate it only frees memory.
type InvalidateAll struct{}

// Route asks the router to deliver Msg to the actor of slot ID, spawning
// one (and creating the slot, for a Get) if it has none. Messages the router
// delivers are never lost to a passivation: it spawns the next actor of a
// slot only once the previous one has stopped.
type Route struct {
	ID  string
	Msg any
}

// Idle tells the router that the actor of Activation has nothing left to
// do, so the router may stop it (passivation).
type Idle struct {
	Activation *core.Activation
	Loads      uint64 // Activation.Loads when the actor became idle
}

// Passivate asks an idle slot actor to stop. It comes from the router, in
// order with the requests the router forwarded, so a slot that got work
// meanwhile sees that work first and refuses with Busy.
type Passivate struct{}

// Busy tells the router that the actor of Activation refused to passivate
// because it has work; the router resumes routing to it.
type Busy struct {
	Activation *core.Activation
}

// Sweep asks the router to free a share of the expired and invalidated
// entries that no actor is watching.
type Sweep struct{}

// Refresh asks a slot to reload in the background because a hit found its
// entry past the refresh point or stale. The first hit to notice sends it,
// once per entry.
type Refresh struct{}

// RefreshRequest is the one Refresh value, so that sending it allocates no
// message on the hit path.
var RefreshRequest = &Refresh{}
