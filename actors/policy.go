package actors

import (
	"log/slog"

	"github.com/slotcache/slotcache/internal/core"
)

// Guard wraps a slot policy, which is user code, so that a panic in it
// cannot take the slot down; see guarded. Wrap each policy once and share
// the result among its slots.
func Guard(p core.Policy, logger *slog.Logger) core.Policy {
	return guarded{policy: p, logger: logger}
}

// guarded runs a slot's policy, which is user code, so that a panic in it
// cannot take the slot down between a load's end and its waiters' answer:
// a panicking hook is logged and the default decision is taken instead.
type guarded struct {
	policy core.Policy
	logger *slog.Logger
}

func (g guarded) recovered(hook, slotID string) {
	if p := recover(); p != nil {
		g.logger.Error("slotcache: behaviour hook panicked; using the default", "hook", hook, "slot", slotID, "panic", p)
	}
}

// Loaded implements core.Policy.
func (g guarded) Loaded(slotID string, value any, t core.Timing) (out core.Timing) {
	out = t
	defer g.recovered("OnLoad", slotID)
	return g.policy.Loaded(slotID, value, t)
}

// Failed implements core.Policy.
func (g guarded) Failed(slotID string, err error) (keep bool) {
	keep = true
	defer g.recovered("OnError", slotID)
	return g.policy.Failed(slotID, err)
}

// Invalidated implements core.Policy.
func (g guarded) Invalidated(slotID string) (reload bool) {
	defer g.recovered("OnInvalidate", slotID)
	return g.policy.Invalidated(slotID)
}
