package core

import "sync/atomic"

// Entry is one cached result. Its value and times are immutable once
// published: a new load produces a new Entry, so a reader holding a pointer
// never sees a torn value. The one mutable bit is whether a background
// refresh was requested, so that many hits past the refresh point send the
// slot one message, not one each.
//
// Gen and Epoch record the slot generation and the engine epoch the load
// started under; a reader that finds either out of date treats the entry as
// absent, which is how an invalidation overtakes an entry without any reader
// ever waiting for the slot actor to process it.
//
// Times are Clock nanoseconds: before Soft a hit is plain; from Soft to
// Deadline a hit also asks for a background refresh (refresh-ahead); from
// Deadline to StaleUntil the value is stale and served only while a reload
// runs (stale-while-revalidate); from StaleUntil on it is absent. With the
// default behaviour all three are equal.
type Entry struct {
	Value      any
	Gen        uint64
	Epoch      uint64
	Soft       int64
	Deadline   int64
	StaleUntil int64
	// Loaded is when the load that produced Value started, for the
	// staleness bound (see staleness.go).
	Loaded int64

	refreshing atomic.Bool
}

// RequestRefresh reports whether the caller is the first to ask for a
// refresh of this entry (and so should tell the slot).
func (e *Entry) RequestRefresh() bool { return e.refreshing.CompareAndSwap(false, true) }

// RefreshFailed lets a later hit ask for a refresh again.
func (e *Entry) RefreshFailed() { e.refreshing.Store(false) }
