package core

// Storing and freeing entries. The slot's actor is the only one that
// stores an entry in its handle; the actor, the sweeper and the evictor may
// all free one. Every change is a compare-and-swap on the handle's entry,
// so a free that races a store is counted once and never undoes the store,
// and the count of cached slots never passes the bound.

// Store makes e the entry of h, replacing whatever is there. A slot that
// has no entry must first be admitted within the engine's slot limit, if
// it has one; Store reports whether e was stored. Actor only.
func (env *Env) Store(h *Handle, e *Entry) bool {
	for {
		old := h.entry.Load()
		if old != nil {
			if h.entry.CompareAndSwap(old, e) {
				return true
			}
			continue // freed meanwhile: the slot needs a place again
		}
		if env.Bound != nil {
			if !env.Reserve(h) {
				return false
			}
		} else {
			env.cached.Add(1)
		}
		if h.entry.CompareAndSwap(nil, e) {
			return true
		}
		env.cached.Add(-1) // unreachable with one storing actor; stay exact
	}
}

// Replace swaps old for e only if old is still h's entry, so that an entry
// freed meanwhile is not brought back. Actor only.
func (env *Env) Replace(h *Handle, old, e *Entry) bool {
	return old != nil && h.entry.CompareAndSwap(old, e)
}

// Drop removes e from h if it is still its entry, counting the eviction
// under reason, and reports whether it did.
func (env *Env) Drop(h *Handle, e *Entry, reason int) bool {
	if e == nil || !h.entry.CompareAndSwap(e, nil) {
		return false
	}
	env.cached.Add(-1)
	switch reason {
	case ReasonSize:
		env.Stats.EvictedSize.Add(1)
	case ReasonExpired:
		env.Stats.EvictedExpired.Add(1)
	case ReasonInvalidated:
		env.Stats.EvictedInvalidated.Add(1)
	}
	return true
}

// Reclaim drops h's entry if it can no longer be served, counting it as
// invalidated or expired, and reports whether it did. The slot actor, the
// sweeper and the evictor all reclaim through it.
func (env *Env) Reclaim(h *Handle) bool {
	e := h.Entry()
	if e == nil || env.Fresh(h) != nil {
		return false
	}
	reason := ReasonExpired
	if e.Gen != h.Gen() || e.Epoch != env.Epoch() {
		reason = ReasonInvalidated
	}
	return env.Drop(h, e, reason)
}
