package fill

import (
	"crypto/rand"
	"encoding/hex"
)

// keys are the Redis keys of one slot in one namespace: the shared copy,
// the lease lock, and the copy's refresh point (see doc.go).
type keys struct {
	data, lock, refresh string
}

// keysFor derives a slot's keys. The data key is wrapped whole in a hash
// tag and the other keys are the data key plus a suffix, so all share the
// Cluster slot of their tag whatever the slot ID holds: Redis hashes the
// text between the first '{' and the first '}' after it, and both keys
// start with the same "{<prefix><ns>:" followed by the same characters up
// to that '}'. The tag is never empty because the prefix has no braces and
// the namespace is never empty.
func (c *Coordinator) keysFor(ns, slotID string) keys {
	data := "{" + c.cfg.Prefix + ns + ":" + slotID + "}"
	return keys{data: data, lock: data + ":lock", refresh: data + ":refresh"}
}

// genKey holds the current namespace token. It starts without '{' so it
// never collides with a data or lock key.
func (c *Coordinator) genKey() string { return c.cfg.Prefix + "gen" }

// leaseToken returns 128 random bits in hex: a leader owns its lock only
// while the lock holds its token.
func leaseToken() string { return randomHex(16) }

// namespaceToken returns 64 random bits in hex. A namespace is random rather
// than a counter so that a gen key lost to eviction or a restart can never
// bring back an older namespace whose data may still be alive.
func namespaceToken() string { return randomHex(8) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
