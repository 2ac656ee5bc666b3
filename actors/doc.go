// Package actors holds the engine's actors: one slot actor per cache key,
// which owns that key's entry, expiry timer and loads, and the router actor,
// which owns the directory of slots and supervises them.
//
// Actors only ever handle misses, loads, invalidations and expiry; hits are
// served from the slot's handle without any message (see internal/core).
package actors
