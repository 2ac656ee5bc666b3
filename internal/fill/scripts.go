package fill

import "github.com/redis/go-redis/v9"

// The scripts each touch the keys of one slot only (data and lock share a
// hash tag), so they run unchanged on Redis Cluster. PUBLISH inside a script
// is allowed there too and reaches subscribers on every node.

// acquireSrc checks the data key and, only if it is empty, takes the lease
// lock; both in one atomic step, so no commit can land between the check
// and the SET (this is the leader's mandatory re-check, without a window).
// Followers run it as their poll: it reads the data key first and takes the
// lock only when the data is still missing, which is how a follower takes
// over from a leader that gave up.
//
// A copy whose remaining life is down to its refresh point (the refresh
// key holds it, in ms) is due: the first reader to find it so takes the
// lock too, and gets the copy with it, to serve while it reloads the slot;
// the others get the copy alone until the lock's holder has rewritten it.
//
// KEYS: data, lock, refresh. ARGV: token, lease in ms.
// Returns {1, value, pttl} (hit), {2} (lock taken), {3} (lock busy) or
// {4, value, pttl} (hit, due, and the lock taken to refresh it).
const acquireSrc = `
local v = redis.call('GET', KEYS[1])
if v then
  local pttl = redis.call('PTTL', KEYS[1])
  local due = tonumber(redis.call('GET', KEYS[3]))
  if due and pttl >= 0 and pttl <= due and redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
    return {4, v, pttl}
  end
  return {1, v, pttl}
end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {2} end
return {3}
`

// commitSrc writes the value only while the lock still holds the leader's
// token, with its refresh point (or none), deletes the lock and publishes
// the notice, atomically. A leader whose lease expired, or whose slot was
// invalidated (data and lock deleted), gets 0 and writes nothing.
//
// KEYS: data, lock, refresh. ARGV: token, value, ttl in ms, channel,
// notice, refresh point in ms of remaining life (0: none).
const commitSrc = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
if ARGV[6] ~= '0' then
  redis.call('SET', KEYS[3], ARGV[6], 'PX', ARGV[3])
else
  redis.call('DEL', KEYS[3])
end
redis.call('DEL', KEYS[2])
if ARGV[4] ~= '' then redis.call('PUBLISH', ARGV[4], ARGV[5]) end
return 1
`

// releaseSrc deletes the lock only if it still holds the token
// (compare-and-delete), and then publishes the notice so that followers
// look again at once and one of them takes over.
//
// KEYS: lock. ARGV: token, channel, notice.
const releaseSrc = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return 1
`

// namespaceSrc returns the namespace token, creating it if it is missing.
//
// KEYS: gen. ARGV: a fresh token.
const namespaceSrc = `
local g = redis.call('GET', KEYS[1])
if g then return g end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
`

// Script.Run tries EVALSHA and falls back to EVAL on NOSCRIPT, so a
// restarted or flushed server costs one extra round trip, not an error.
// Inside a pipeline that fallback does not exist, so the pipelined first
// attempt sends acquireSrc itself (EVAL).
var (
	acquireScript   = redis.NewScript(acquireSrc)
	commitScript    = redis.NewScript(commitSrc)
	releaseScript   = redis.NewScript(releaseSrc)
	namespaceScript = redis.NewScript(namespaceSrc)
)
