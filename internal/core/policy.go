package core

import "time"

// Timing is how long a slot serves a value it loaded, and how long the
// shared tier (WithFill) keeps it. It mirrors the public slotcache.Decision
// field for field, so the root package converts between them for free.
type Timing struct {
	TTL          time.Duration
	RefreshAfter time.Duration
	StaleFor     time.Duration
	// SharedTTL is the shared copy's lifetime; zero means TTL, and a value
	// under TTL counts as TTL: the loading instance's own copy never
	// outlives the shared one.
	SharedTTL time.Duration
}

// Share is how a fill leader shares a value timed t: for SharedTTL (at
// least TTL), and, if t refreshes ahead, reloaded by the fleet once it has
// lived the same fraction of its life as the local copy refreshes at. A
// value not cached here is not shared.
func (t Timing) Share() Share {
	if t.TTL <= 0 {
		return Share{}
	}
	s := Share{TTL: max(t.SharedTTL, t.TTL)}
	if t.RefreshAfter > 0 && t.RefreshAfter < t.TTL {
		s.RefreshAfter = time.Duration(float64(s.TTL) * float64(t.RefreshAfter) / float64(t.TTL))
	}
	return s
}

// Policy is a slot's behaviour as the slot actor sees it: the decisions it
// takes at its key moments. The root package adapts the public Behaviour
// interface to it. Methods are called from the slot actor only, never on
// the hit path.
type Policy interface {
	// Loaded decides how long value is served; t holds the engine default.
	Loaded(slotID string, value any, t Timing) Timing
	// Failed decides whether the last value may still be served (within the
	// bound decided when it was loaded) after a reload failed with err.
	Failed(slotID string, err error) bool
	// Invalidated decides whether to reload the slot in the background at
	// once after an invalidation.
	Invalidated(slotID string) bool
}

// DefaultPolicy is the engine's behaviour when none is configured: the
// engine TTL, no refresh, no stale serving, no eager reload.
type DefaultPolicy struct{}

// Loaded implements Policy.
func (DefaultPolicy) Loaded(_ string, _ any, t Timing) Timing { return t }

// Failed implements Policy.
func (DefaultPolicy) Failed(string, error) bool { return true }

// Invalidated implements Policy.
func (DefaultPolicy) Invalidated(string) bool { return false }

// EntryFor returns the entry a slot publishes for value loaded now under
// gen and epoch with timing t, or nil if t says not to cache it.
func EntryFor(value any, gen, epoch uint64, now int64, t Timing) *Entry {
	if t.TTL <= 0 {
		return nil
	}
	e := &Entry{Value: value, Gen: gen, Epoch: epoch, Loaded: now, Deadline: now + int64(t.TTL)}
	e.Soft = e.Deadline
	if t.RefreshAfter > 0 && t.RefreshAfter < t.TTL {
		e.Soft = now + int64(t.RefreshAfter)
	}
	e.StaleUntil = e.Deadline
	if t.StaleFor > 0 {
		e.StaleUntil += int64(t.StaleFor)
	}
	return e
}
