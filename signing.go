package slotcache

import (
	"time"

	"github.com/slotcache/slotcache/bridge"
	"github.com/slotcache/slotcache/internal/fill"
)

// MinSigningKeyBytes is the shortest key WithSigning takes (128 bits). Use
// 32 random bytes; a password is not a key.
const MinSigningKeyBytes = bridge.MinKeyBytes

// DefaultSigningMaxAge is Signing.MaxAge when left zero.
const DefaultSigningMaxAge = bridge.DefaultMaxAge

// Signing configures authenticated messages and shared values (see
// WithSigning).
type Signing struct {
	// Keys are HMAC-SHA256 keys of at least MinSigningKeyBytes each. The
	// first signs everything this engine publishes and writes; every one
	// verifies, so that keys rotate without a moment where instances
	// refuse each other (see README, "Security").
	Keys [][]byte
	// AcceptUnsigned is the migration mode, for a fleet that does not sign
	// yet: messages go out signed (instances that do not sign ignore the
	// signature), shared values are written unsigned (instances that do
	// not sign cannot read a signed one), and unsigned messages and values
	// are still accepted, and counted (Stats.UnsignedMessages). Once every
	// instance runs in this mode, restart them without it.
	AcceptUnsigned bool
	// MaxAge is the replay window (default 30 s): a message dated more
	// than MaxAge before or after this engine's clock is refused, and one
	// accepted within it is refused if it comes again. It also bounds the
	// clock skew the fleet may have. At least a second.
	MaxAge time.Duration
}

// signing is a validated Signing.
type signing struct {
	option         string // WithSigning or WithSigningKey, for errors
	keys           *bridge.Keyring
	acceptUnsigned bool
	maxAge         time.Duration
}

// WithSigning makes the engine authenticate what it exchanges through
// Redis with a key its fleet shares: every message on the channel
// (invalidations, fill notices, confirmation answers) carries a timestamp
// and an HMAC-SHA256 over its content and its channel, and every shared
// value of the fill tier (WithFill) one over its content, its key and its
// expiry. Messages that are unsigned (unless AcceptUnsigned), forged,
// outside the replay window or replayed are ignored and counted by reason
// (Stats.RefusedUnsigned, RefusedForged, RefusedStale, RefusedReplayed); a
// shared value that does not verify is loaded locally instead
// (Stats.FillUnverified), never served. Without it (the default) messages
// are the seed's unsigned JSON, which anyone who can PUBLISH on the
// channel can forge: see README, "Security", for what signing protects and
// what it does not.
//
// It needs Redis. A named cache (NewCache) signs with its engine's keys
// unless it is given its own WithSigning; its channel is signed and
// verified on its own either way, on the engine's connection or not.
func WithSigning(s Signing) Option {
	return func(c *config) error {
		sg, err := newSigning("WithSigning", s)
		if err != nil {
			return err
		}
		c.signing = sg
		return nil
	}
}

// WithSigningKey is WithSigning with signatures required: key signs, and
// key and the older keys verify (the older ones while a rotation is under
// way).
func WithSigningKey(key []byte, older ...[]byte) Option {
	return func(c *config) error {
		sg, err := newSigning("WithSigningKey", Signing{Keys: append([][]byte{key}, older...)})
		if err != nil {
			return err
		}
		c.signing = sg
		return nil
	}
}

func newSigning(option string, s Signing) (*signing, error) {
	keys, err := bridge.NewKeyring(s.Keys...)
	if err != nil {
		return nil, &OptionError{Option: option, Reason: err.Error(), Err: err}
	}
	if s.MaxAge == 0 {
		s.MaxAge = DefaultSigningMaxAge
	}
	if s.MaxAge < time.Second {
		return nil, optionError(option, "MaxAge must be at least 1s, got %v: messages merely delayed by a busy Redis would be refused", s.MaxAge)
	}
	return &signing{option: option, keys: keys, acceptUnsigned: s.AcceptUnsigned, maxAge: s.MaxAge}, nil
}

// checkSigning checks that signing has Redis to sign for, once every option
// is applied.
func (c *config) checkSigning() error {
	if c.signing == nil || c.redis != nil || c.redisURL != "" {
		return nil
	}
	return optionError(c.signing.option, "needs Redis: add WithRedis, or FromEnv with REDIS_URL set")
}

// bridgeSigning is the bridge's view of the configuration: nil without
// signing.
func (c *config) bridgeSigning() *bridge.Signing {
	if c.signing == nil {
		return nil
	}
	return &bridge.Signing{Keys: c.signing.keys, AcceptUnsigned: c.signing.acceptUnsigned, MaxAge: c.signing.maxAge}
}

// fillSigning is the fill coordinator's view of the configuration: nil
// without signing.
func (c *config) fillSigning() *fill.Signing {
	if c.signing == nil {
		return nil
	}
	return &fill.Signing{Keys: c.signing.keys, AcceptUnsigned: c.signing.acceptUnsigned}
}

// signingStats copies the signature counters of the engine's channel into
// st.
func signingStats(st *Stats, b bridge.Stats) {
	st.UnsignedMessages = b.UnsignedAccepted
	st.RefusedUnsigned = b.RefusedUnsigned
	st.RefusedForged = b.RefusedForged
	st.RefusedStale = b.RefusedStale
	st.RefusedReplayed = b.RefusedReplayed
	st.ForgedHeartbeats = b.ForgedHeartbeats
}
