package core

// Entry is one cached result. It is immutable once published: a new load
// produces a new Entry, so a reader holding a pointer never sees a torn value.
//
// Gen and Epoch record the slot generation and the engine epoch the load
// started under; a reader that finds either out of date treats the entry as
// absent, which is how an invalidation overtakes an entry without any reader
// ever waiting for the slot actor to process it.
type Entry struct {
	Value    any
	Gen      uint64
	Epoch    uint64
	Deadline int64 // Clock nanoseconds after which the entry is stale
}
