// Package actors holds the engine's actors: the slot actor, which owns a
// cache key while it has work (its loads, its waiters and the decision of
// what to cache), and the router actor, which owns the directory of slots,
// binds actors to slots and supervises them. lifecycle.go has every
// transition of a slot, from no actor to loading and back.
//
// Actors only ever handle misses, loads and invalidations; hits are served
// from the slot's handle without any message (see internal/core). Actors
// run on the goroutine of whoever sends them a message while they are idle
// (callermailbox.go); loads run on warm workers (dispatcher.go) and time
// out on one list per engine (deadlines.go).
//
// The package is public only because the project's layout puts it at the
// top level: it is the engine's machinery, not an API, and carries no
// compatibility promise. Its exported surface is what the root package
// needs to start the router.
package actors
