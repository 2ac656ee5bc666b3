package fill

import (
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/slotcache/slotcache/internal/core"
)

// Codec turns values into bytes for the shared tier and back. slotID lets
// one codec pick a concrete type per kind of slot. nil values and byte
// slices never reach it (see envelope.go).
type Codec interface {
	Marshal(slotID string, v any) ([]byte, error)
	Unmarshal(slotID string, data []byte) (any, error)
}

// Config configures a Coordinator. The root package validates the
// durations (WithFill) before it builds one.
type Config struct {
	// Client reaches the shared tier.
	Client redis.UniversalClient
	// Prefix starts every key; it must not contain '{' or '}'.
	Prefix string
	// Lease is the lock's lifetime; Wait bounds how long a follower waits;
	// PollMin and PollMax bound a follower's backoff between two checks.
	Lease, Wait, PollMin, PollMax time.Duration
	// OpTimeout bounds each Redis call; past it the miss degrades.
	OpTimeout time.Duration
	// Codec encodes values for the shared tier.
	Codec Codec
	// Channel receives a notice whenever a fill ends (commit or release),
	// in the same script; "" publishes nothing.
	Channel string
	// Notice returns the payload of the notice for slotID.
	Notice func(slotID string) []byte
	// Logger receives one record per coordinated miss.
	Logger *slog.Logger
	// Observe times fill waits and sees leases and waits; nil for none.
	Observe *core.Observe
	// Refused, when not nil, hears each Redis error of the shared tier and
	// returns whether it is a refusal (an ACL right, the credentials, a
	// TLS certificate), then hears nil at the next success after one: a
	// refusal degrades every miss until someone fixes it, so the engine
	// shows it as it shows a refused PUBLISH. Not called on a success
	// otherwise.
	Refused func(err error) bool
	// Signing, when not nil, authenticates shared values (sign.go); nil
	// keeps the unsigned envelope of envelope.go.
	Signing *Signing
}
