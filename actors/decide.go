package actors

import (
	"time"

	"github.com/slotcache/slotcache/internal/core"
	"github.com/slotcache/slotcache/messages"
)

// The caching decision, taken once per load in the slot's actor: whether
// to cache a loaded value, for how long, when to refresh it and how long
// to serve it stale. The fill coordinator only reports where a value came
// from (core.FillSource); it never decides a lifetime of its own.

// decision runs the slot's behaviour on value, from the engine's TTL and
// shared lifetime.
func (s *slot) decision(value any) core.Timing {
	return s.h.Policy.Loaded(s.h.ID, value, core.Timing{TTL: s.env.TTL(), SharedTTL: s.env.SharedTTL})
}

// cache stores the result of flight f, which no invalidation overtook, as
// the slot decides:
//   - a value loaded here is cached as the behaviour says (decided already
//     if a fill leader shared it, so the behaviour runs once per load);
//   - a shared copy is cached as the behaviour says, but never past the
//     copy's own remaining life: local copies expire with the shared one;
//   - a value whose fill commit was rejected is never cached: an
//     invalidation or a newer leader overtook it.
func (s *slot) cache(f *flight, r core.FillResult) {
	var t core.Timing
	now := s.env.Clock.Now()
	switch r.Source {
	case core.CommitRejected:
		return // counted as such by the coordinator, not as a behaviour's choice
	case core.SharedCopy:
		left := r.Remaining
		if left > 0 {
			// Redis reported the copy's life after the load started:
			// counted from the start, the local copy ends no later than
			// the shared one, however late the result arrived here.
			if left -= time.Duration(now - f.started); left <= 0 {
				return
			}
		}
		t = capTiming(s.decision(r.Value), left)
	default:
		if f.timing != nil {
			t = *f.timing
		} else {
			t = s.decision(r.Value)
		}
	}
	e := core.EntryFor(r.Value, f.gen, f.epoch, now, t)
	if e == nil {
		s.env.Stats.Uncached.Add(1)
		s.env.Drop(s.h, s.h.Entry(), core.ReasonExpired)
		return
	}
	e.Loaded = f.started // the staleness bound counts from the load's start
	s.env.Store(s.h, e)
}

// capTiming limits t to a shared copy's remaining life: its TTL, and its
// refresh point in proportion, so that a refresh-ahead behaviour still
// refreshes before the shortened end. The stale window is local and kept.
func capTiming(t core.Timing, remaining time.Duration) core.Timing {
	if remaining <= 0 || t.TTL <= remaining {
		return t
	}
	if t.RefreshAfter > 0 {
		t.RefreshAfter = time.Duration(float64(t.RefreshAfter) * float64(remaining) / float64(t.TTL))
	}
	t.TTL = remaining
	return t
}

// shareDecision is a fill leader's question to its slot: how may this
// value be shared? The slot answers with the shared lifetime of the timing
// it will cache the value with, and remembers that timing for when the
// load completes.
type shareDecision struct {
	flight uint64
	value  any
	reply  chan core.Share // room for one answer
}

// decideShare answers a fill leader. A load that an invalidation overtook,
// or that this incarnation does not know, is not shared at all.
func (s *slot) decideShare(m *shareDecision) {
	f := s.flights[m.flight]
	if f == nil || !s.isCurrent(f) {
		m.reply <- core.Share{}
		return
	}
	t := s.decision(m.value)
	f.timing = &t
	m.reply <- t.Share()
}

// shareFor returns the slot as the fill coordinator of flight f's load
// sees it from the loader goroutine.
func shareFor(f *flight) core.FillSlot { return fillSlot{f} }

// fillSlot asks the slot's actor, by message, what the coordinator needs to
// know: the decision is the actor's alone.
type fillSlot struct{ f *flight }

// Share implements core.FillSlot: the slot's actor runs the behaviour, once
// for the load, and the leader shares the value as it decided.
func (s fillSlot) Share(value any) core.Share {
	reply := make(chan core.Share, 1)
	s.f.env.Root.Send(s.f.self, &shareDecision{flight: s.f.id, value: value, reply: reply})
	select {
	case sh := <-reply:
		return sh
	case <-s.f.Done():
		return core.Share{}
	}
}

// Serve implements core.FillSlot: this load won the lease to reload a
// shared copy that is due, and hands the copy over first.
func (s fillSlot) Serve(value any, remaining time.Duration) {
	s.f.env.Root.Send(s.f.self, &servedCopy{flight: s.f.id, value: value, remaining: remaining})
}

// servedCopy is a shared copy that a fill load hands its slot before it
// reloads the slot from the source (fleet refresh-ahead).
type servedCopy struct {
	flight    uint64
	value     any
	remaining time.Duration
}

// serveCopy caches a shared copy handed over while flight m.flight goes on
// to reload the slot from the source, as it would a shared copy that
// ended the load, and answers the callers waiting on that load: the copy
// is theirs now, not after the source answered. Hits go on at hit speed
// (a refresh they ask for joins the load in flight); the load's own
// result replaces the copy when it lands.
func (s *slot) serveCopy(m *servedCopy) {
	f := s.flights[m.flight]
	if f == nil || !s.isCurrent(f) {
		return
	}
	s.cache(f, core.FillResult{Value: m.value, Source: core.SharedCopy, Remaining: m.remaining})
	answer(f, messages.Result{Value: m.value})
}

// failed lets the policy decide whether the last value may still be served
// after a load of flight f failed with err. If it may, hits ask for another
// reload only after a backoff; if not, the value is served at most until
// its deadline, never stale.
func (s *slot) failed(f *flight, err error) {
	s.h.Owned.Failures++
	e, _ := s.env.Lookup(s.h)
	if e == nil || e.Gen != f.gen || e.Epoch != f.epoch {
		return
	}
	if s.h.Policy.Failed(s.h.ID, err) {
		now := s.env.Clock.Now()
		e.RefreshFailed(now + int64(backoff(time.Duration(e.Deadline-e.Loaded), s.h.Owned.Failures)))
		return
	}
	if e.StaleUntil > e.Deadline {
		s.env.Replace(s.h, e, &core.Entry{Value: e.Value, Gen: e.Gen, Epoch: e.Epoch, Loaded: e.Loaded, Soft: e.Soft, Deadline: e.Deadline, StaleUntil: e.Deadline})
	}
}
