// Package bridge connects an engine to a Redis pub/sub channel: it turns
// other instances' invalidation messages into local invalidations and
// publishes the engine's own.
//
// Pub/sub is at most once, so the bridge assumes messages get lost: every
// confirmed (re)subscription asks the engine to resync (flush), and a
// heartbeat that the bridge publishes to itself detects a half-open
// connection, which no TCP or Redis health check notices, and leads to the
// same flush and a fresh subscription. The bridge never blocks the engine:
// it runs in its own goroutine and reconnects with backoff for as long as it
// lives.
package bridge
