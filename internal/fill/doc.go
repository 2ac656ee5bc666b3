// Package fill coordinates cache fills across engine instances through a
// shared tier in Redis, so that a cold or just-invalidated slot is loaded
// once for the whole fleet instead of once per instance. The root package
// exposes it as WithFill; the slot actor's loader goroutine calls
// Coordinator.Load instead of the loader (see core.Filler).
//
// # Protocol
//
// Every key lives in a namespace, a random token stored at <prefix>gen:
//
//	<prefix>gen                         namespace token (no TTL)
//	{<prefix><ns>:<slot>}               data key: envelope(value), PX = shared TTL
//	{<prefix><ns>:<slot>}:lock          lease lock: random token, PX = Lease
//	{<prefix><ns>:<slot>}:refresh       refresh point: ms of remaining life, PX = shared TTL
//
// The lock and refresh keys are the data key plus a suffix, and the data key
// is wrapped in a hash tag, so all three always hash to the same Redis
// Cluster slot and every script below touches a single slot.
//
// A local miss runs, in one pipelined round trip, a read of the namespace
// and the acquire script on the last namespace seen. The acquire script
// reads the data key; if it is there, that is a shared hit, cached locally
// with the key's remaining PTTL. If not, it takes the lease lock with
// SET lock token NX PX lease. The data check and the SET run as one atomic
// step: that is the mandatory "re-check after acquiring the lock" made
// airtight, since no commit can land between them, and while the lock is
// ours only our token can write the data key.
//
// The leader loads, asks its slot how to share the value (core.Share: the
// shared lifetime, which may be longer than the local one, and a refresh
// point), then commits with a script that writes the data key (and the
// refresh key, or deletes it) and deletes the lock only if the lock still
// holds its token, and publishes a
// "filled" notice on the invalidation channel in the same atomic step. A
// leader whose lease expired, or whose slot was invalidated meanwhile (the
// invalidation deletes data and lock), cannot write its possibly stale
// value. On a loader error, a panic or a value that does not encode, the
// leader releases the lock with a compare-and-delete script, which also
// publishes the notice so that a follower takes over at once.
//
// Followers run the acquire script again, which reads the data key first
// and takes the lock only if the data key is still empty (so a follower
// takes over from a leader that gave up). They retry when a notice for the
// slot arrives, or after a jittered backoff between PollMin and PollMax, for
// at most Wait; then they load locally, without committing.
//
// Refresh-ahead of the shared copy: once the data key's remaining life is
// down to its refresh point, the acquire script run by any reader (a local
// refresh, usually) takes the lock if it is free and returns the copy with
// it. That reader serves the copy at once (core.FillSlot.Serve), loads the
// slot from the source and commits like a leader; readers meanwhile find
// the lock busy and get the old copy, which is still alive. So one
// instance of the fleet reloads the copy before it expires and nobody
// waits. A lost lease holder costs what a lost leader costs: the copy then
// expires and the next miss leads as usual.
//
// Invalidating a slot deletes its data key, lock and refresh point in the
// current namespace before the engine publishes the invalidation. Invalidating
// every slot replaces the namespace token: O(1) whatever the number of
// keys, and Cluster-safe (no SCAN across nodes). Keys of the retired
// namespace are never read again and expire with their TTL; a leader still
// loading in it may commit there, where nobody looks.
//
// Every Redis call is bounded by a timeout; any Redis error degrades to a
// local load, never to a failed Get.
//
// With Config.Signing, a committed copy carries an HMAC over its data key,
// its expiry and its envelope (sign.go); every read of a copy (a miss's
// first look, a follower's poll, a due copy's refresh) verifies it, and
// one that does not verify is never served: the miss loads the slot itself
// (outcome Unverified).
package fill
