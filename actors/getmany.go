package actors

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/slotcache/slotcache/messages"
)

// handleGet is get, and tells a request that asks (GetMany's) whether it
// started a load: only then will its loader be called, so only then may
// a batch wait for it. A load that the request merely joined, perhaps
// another batch's, must not be waited for: two batches joining each
// other's loads would wait for each other.
func (s *slot) handleGet(ctx actor.Context, m *messages.Get) {
	if m.Started == nil {
		s.get(ctx, m)
		return
	}
	before := s.current
	s.get(ctx, m)
	m.Started(s.current != nil && s.current != before)
}
