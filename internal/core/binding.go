package core

import (
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// released marks a Binding whose actor gave up its slot; the low bits count
// deliveries that were admitted but not yet taken by the actor.
const released = uint64(1) << 63

// Binding is one slot actor's ownership of a handle: the PID that every
// request for the slot goes to while the binding holds, and the count of
// requests on their way to it.
//
// Every sender (a caller's Get, an invalidator, the router) must be
// admitted with Enter before it sends, and the actor calls Took for each
// admitted message it receives. The actor may give up the slot only with
// Release, which succeeds only when no admitted message is on its way; after
// that Enter fails and senders go to the router, which binds a new actor.
// So a message is never sent to an actor that will not process it, and a
// slot is never owned by two actors with work: nothing is lost to a
// passivation and nobody has to retry.
type Binding struct {
	// PID is the bound actor.
	PID *actor.PID
	// H is the slot the actor is bound to.
	H *Handle
	// First is the request that made the router bind a pooled actor,
	// delivered with the binding as one message: a message less per
	// activation. The actor clears it once taken.
	First any

	state atomic.Uint64
}

// NewBinding returns a binding whose actor is about to start, with one
// delivery admitted for the request that makes the router bind it: an
// actor that has been sent nothing could otherwise release before its
// first message arrives.
func NewBinding(h *Handle) *Binding {
	b := &Binding{H: h}
	b.state.Store(1)
	return b
}

// Enter admits one message to the bound actor and reports whether the
// binding still holds. Send the message only if it does.
func (b *Binding) Enter() bool {
	for {
		s := b.state.Load()
		if s&released != 0 {
			return false
		}
		if b.state.CompareAndSwap(s, s+1) {
			return true
		}
	}
}

// Took is called by the actor for each admitted message it receives.
func (b *Binding) Took() { b.state.Add(^uint64(0)) }

// Release ends the binding if no admitted message is on its way, and
// reports whether it did. Actor only, and only with no load in flight.
func (b *Binding) Release() bool { return b.state.CompareAndSwap(0, released) }

// Released reports whether the binding has ended.
func (b *Binding) Released() bool { return b.state.Load()&released != 0 }
