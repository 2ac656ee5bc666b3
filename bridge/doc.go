// Package bridge connects an engine to a Redis pub/sub channel: it turns
// other instances' invalidation messages into local invalidations and
// publishes the engine's own.
//
// Pub/sub is at most once, so the bridge assumes messages get lost: every
// confirmed (re)subscription asks the engine to resync (flush), and a
// heartbeat that the bridge publishes to itself detects a half-open
// connection, which no TCP or Redis health check notices, and leads to the
// same flush and a fresh subscription. The heartbeat carries its send time:
// Redis delivers a connection's messages in order, so its echo proves that
// everything published before it arrived, a watermark the engine bounds
// staleness with (Handler.Watermark). With Sentinel, the bridge also
// listens for +switch-master and moves to the new primary at once
// (SentinelWatch).
//
// The bridge never blocks the engine: it runs in its own goroutines, does
// no Redis I/O under a lock that Attach, Detach or Close take, reconnects
// with backoff for as long as it lives, and Close waits for it only within
// a bound. An invalidation Redis does not take in time waits in a per
// channel outbox (outbox.go) instead of being lost; a confirmed one
// (confirm.go) waits for every subscriber's answer. A storm of
// invalidations from others is coalesced before it reaches the engine
// (damp.go, Config.Damping), without letting the watermark pass what it
// holds.
//
// Messages are the seed's unsigned JSON unless a channel signs (Signing):
// then they carry a timestamp and an HMAC-SHA256 over their content and
// channel, and a receiver refuses, and counts by reason, unsigned, forged,
// stale and replayed ones. The heartbeat is sealed with a key of the
// bridge's own in every mode, since its echo is a watermark.
//
// Files: bridge.go (Start, Close, Config), session.go (one subscription,
// heartbeat, watermark), sub.go (channels on a shared subscription),
// wire.go (the seed's JSON), outbox.go, confirm.go, damp.go, sentinel.go,
// stats.go, sign.go (Keyring), signmsg.go (signed messages), signreplay.go
// (the replay check), signhb.go (the sealed heartbeat).
package bridge
