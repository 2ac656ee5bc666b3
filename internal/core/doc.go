// Package core holds the state shared between the public Engine, the slot and
// router actors and the Redis bridge: the immutable cache entry, the slot
// handle that readers consult without any message, the coarse clock and the
// striped counters. It exists so that the hit path can be served entirely from
// atomics, while the actors stay the only writers of what they own.
package core
