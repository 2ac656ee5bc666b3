package core

import "sync/atomic"

// Entry is one cached result. Its value and times are immutable once
// published: a new load produces a new Entry, so a reader holding a pointer
// never sees a torn value. The mutable bits are whether a background
// refresh was requested, so that many hits past the refresh point send the
// slot one message, not one each, and when the next one may be requested
// after a failed one.
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
	Value any
	Gen   uint64
	Epoch uint64
	// Loaded is when the load that produced Value started, for the
	// staleness bound (see staleness.go) and the reload backoff.
	Loaded     int64
	Soft       int64
	Deadline   int64
	StaleUntil int64

	refreshing atomic.Bool
	retryAt    atomic.Int64 // no refresh request before this time
}

// RequestRefresh reports whether the caller is the first to ask for a
// refresh of this entry at time now (and so should tell the slot).
func (e *Entry) RequestRefresh(now int64) bool {
	return now >= e.retryAt.Load() && e.refreshing.CompareAndSwap(false, true)
}

// RefreshFailed lets a hit ask for a refresh again from time retryAt on:
// a failing source is not asked again by every hit.
func (e *Entry) RefreshFailed(retryAt int64) {
	e.retryAt.Store(retryAt)
	e.refreshing.Store(false)
}
