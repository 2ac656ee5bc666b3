package slotcache

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults, chosen to match the seed module and to keep a stuck loader or a
// dead Redis from holding anyone for long.
const (
	DefaultTTL             = 60 * time.Second
	DefaultChannel         = "slotcache:invalidate"
	DefaultLoadTimeout     = 30 * time.Second
	DefaultPublishTimeout  = 250 * time.Millisecond
	DefaultHeartbeat       = time.Second
	DefaultMaxMessageBytes = 4 << 10
	DefaultPassivateAfter  = 10 * time.Millisecond
	DefaultMaxStaleness    = 3 * time.Second
)

// Option configures an Engine. Options apply in order, so a later one
// overrides an earlier one (FromEnv first, then explicit options, lets code
// win over the environment; the other order lets the environment win).
type Option func(*config) error

type config struct {
	ttl             time.Duration
	redis           redis.UniversalClient
	redisURL        string // from FromEnv: New dials it and closes it at Close
	redisKind       redisKind
	failover        *redis.FailoverOptions // from WithSentinel
	dial            dialConfig             // TLS and credentials of the client New dials (redistls.go)
	channel         string
	origin          string
	logger          *slog.Logger
	loadTimeout     time.Duration
	publishTimeout  time.Duration
	heartbeat       time.Duration
	maxMessageBytes int
	maxSlots        int
	passivateAfter  time.Duration
	behaviour       Behaviour // nil: core.DefaultPolicy
	rules           []prefixBehaviour
	fill            *FillPolicy // nil: no fill coordination (WithFill)
	maxStaleness    time.Duration
	damping         time.Duration
	dampingEnv      bool        // damping is SLOTCACHE_INVALIDATION_DAMPING's (FromEnv), for checkDamping's error
	typed           typedConfig // NewCache only (typedconfig.go)
	observer        Observer    // nil: none (WithObserver)
	signing         *signing    // nil: unsigned messages and values (WithSigning)
}

func defaultConfig() config {
	return config{
		ttl:             DefaultTTL,
		channel:         DefaultChannel,
		origin:          randomOrigin(),
		logger:          slog.New(slog.DiscardHandler),
		loadTimeout:     DefaultLoadTimeout,
		publishTimeout:  DefaultPublishTimeout,
		heartbeat:       DefaultHeartbeat,
		maxMessageBytes: DefaultMaxMessageBytes,
		passivateAfter:  DefaultPassivateAfter,
		maxStaleness:    DefaultMaxStaleness,
		damping:         dampingDefault,
	}
}

// randomOrigin returns a 128-bit random instance ID. It is never derived
// from host name or PID, which collide across containers.
func randomOrigin() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

func positive(name string, d time.Duration) error {
	if d <= 0 {
		return optionError(name, "must be positive, got %v", d)
	}
	return nil
}

// WithTTL sets how long a loaded value stays fresh (default 60 s). With
// Redis, WithMaxStaleness bounds how stale a value can be when an
// invalidation is lost; without it (or with Redis but WithMaxStaleness(0)),
// the TTL does.
func WithTTL(d time.Duration) Option {
	return func(c *config) error { c.ttl = d; return positive("WithTTL", d) }
}

// WithRedis connects the engine to other instances through client's pub/sub.
// Without it the engine is a purely local cache. The client stays the
// caller's: Close does not close it.
func WithRedis(client redis.UniversalClient) Option {
	return func(c *config) error {
		if client == nil {
			return optionError("WithRedis", "client is nil")
		}
		c.redis, c.redisURL, c.failover = client, "", nil
		return nil
	}
}

// WithChannel sets the pub/sub channel for invalidations (default
// "slotcache:invalidate"). Use the seed module's channel to interoperate
// with it, and one channel per logical cache.
func WithChannel(name string) Option {
	return func(c *config) error {
		if name == "" {
			return optionError("WithChannel", "channel name is empty")
		}
		c.channel = name
		return nil
	}
}

// WithOrigin sets the instance ID that marks this engine's own messages
// (default: 128 random bits). Two engines with the same origin ignore each
// other, so set it only to something unique.
func WithOrigin(id string) Option {
	return func(c *config) error {
		if id == "" {
			return optionError("WithOrigin", "origin is empty")
		}
		c.origin = id
		return nil
	}
}

// WithLogger sends the engine's logs, and the actor system's warnings and
// errors, to logger. By default the engine logs nothing.
func WithLogger(logger *slog.Logger) Option {
	return func(c *config) error {
		if logger == nil {
			return optionError("WithLogger", "logger is nil")
		}
		c.logger = logger
		return nil
	}
}

// WithLoadTimeout bounds one shared load (default 30 s): its waiters get
// ErrLoadTimeout and the loader's context is cancelled, even if the loader
// ignores it.
func WithLoadTimeout(d time.Duration) Option {
	return func(c *config) error { c.loadTimeout = d; return positive("WithLoadTimeout", d) }
}

// WithPublishTimeout bounds how long Invalidate and InvalidateAll wait for
// Redis to take their publish (default 250 ms). Past it they return an
// error wrapping ErrQueued: the invalidation waits in the engine's outbox
// and is published as soon as Redis answers again, so a write never blocks
// for long on a Redis outage, and its invalidation is not lost.
func WithPublishTimeout(d time.Duration) Option {
	return func(c *config) error { c.publishTimeout = d; return positive("WithPublishTimeout", d) }
}

// WithHeartbeat sets how often the engine publishes a heartbeat to itself
// (default 1 s). A subscription that stops echoing it for three intervals is
// considered dead, even if its TCP connection looks open: the engine
// flushes and resubscribes. Zero disables the heartbeat.
func WithHeartbeat(d time.Duration) Option {
	return func(c *config) error {
		c.heartbeat = d
		if d < 0 {
			return optionError("WithHeartbeat", "must not be negative, got %v", d)
		}
		return nil
	}
}

// WithMaxMessageBytes bounds an accepted pub/sub message (default 4 KiB);
// larger ones are ignored and counted as malformed.
func WithMaxMessageBytes(n int) Option {
	return func(c *config) error {
		c.maxMessageBytes = n
		if n < 64 {
			return optionError("WithMaxMessageBytes", "must be at least 64, got %d", n)
		}
		return nil
	}
}

// FromEnv configures the engine from the environment, so deployments can
// tune it without a code change. Unset variables leave the configuration as
// it is.
//
//   - REDIS_URL: a single server, redis://host:port/db (or rediss://), as
//     redis.ParseURL reads it; or Sentinel, when it has a master_name
//     parameter, as redis.ParseFailoverURL reads it: host and addr=
//     parameters are the sentinels, e.g.
//     redis://s1:26379/0?master_name=mymaster&addr=s2:26379&addr=s3:26379.
//     With Sentinel the engine also listens for the sentinels'
//     +switch-master and moves its subscription to the new primary at once.
//   - REDIS_CLUSTER_URL: a Redis Cluster, as redis.ParseClusterURL reads
//     it: host and addr= parameters are seed nodes, e.g.
//     redis://n1:7000?addr=n2:7000&addr=n3:7000. Set at most one of the two.
//   - REDIS_USERNAME, REDIS_PASSWORD: the Redis user (ACL) and password,
//     for a URL that has none of its own (rediss://user:pass@host/0 wins),
//     so that the password can come from a secret rather than the URL.
//     With Sentinel they are the servers' (the URL's are the sentinels').
//   - REDIS_TLS_CA_FILE: a PEM file of the authorities to trust, instead
//     of the system's (which Go reads from SSL_CERT_FILE and SSL_CERT_DIR
//     when set), for a rediss:// URL.
//   - REDIS_TLS_CERT_FILE, REDIS_TLS_KEY_FILE: a client certificate and
//     its key (PEM), for a server with tls-auth-clients.
//   - SLOTCACHE_TTL_MS: the TTL in milliseconds.
//   - SLOTCACHE_SIGNING_KEYS: signing keys (see WithSigning), in base64,
//     separated by commas; the first signs, every one verifies. Signatures
//     are then required, unless SLOTCACHE_SIGNING_ACCEPT_UNSIGNED=true
//     (the migration mode, Signing.AcceptUnsigned).
//   - SLOTCACHE_INVALIDATION_DAMPING: the bound of WithInvalidationDamping,
//     a Go duration such as 500ms, or 0 or off to apply every invalidation
//     at once; it must be below WithMaxStaleness.
//
// The engine dials what it finds and closes the client at Close. TLS
// files are read at New: an unreadable or invalid one, or one set next to
// a redis:// URL, fails New.
func FromEnv() Option {
	return func(c *config) error {
		nodeURL, clusterURL := os.Getenv("REDIS_URL"), os.Getenv("REDIS_CLUSTER_URL")
		urlTLS, err := c.redisFromEnv(nodeURL, clusterURL)
		if err != nil {
			return err
		}
		if err := c.dialFromEnv(os.Getenv, nodeURL != "" || clusterURL != "", urlTLS); err != nil {
			return err
		}
		if s := os.Getenv("SLOTCACHE_TTL_MS"); s != "" {
			ms, err := strconv.ParseInt(s, 10, 64)
			if err != nil || ms <= 0 {
				return optionError("FromEnv", "SLOTCACHE_TTL_MS must be a positive integer of milliseconds, got %q", s)
			}
			c.ttl = time.Duration(ms) * time.Millisecond
		}
		if err := c.dampingFromEnv(os.Getenv); err != nil {
			return err
		}
		return c.signingFromEnv(os.Getenv)
	}
}

// WithBehaviour sets the behaviour of every slot that no
// WithPrefixBehaviour rule matches (default: Base, the engine TTL).
func WithBehaviour(b Behaviour) Option {
	return func(c *config) error {
		if err := validateBehaviour(b); err != nil {
			return &OptionError{Option: "WithBehaviour", Reason: err.Error(), Err: err}
		}
		c.behaviour = b
		return nil
	}
}

// WithPrefixBehaviour sets the behaviour of the slots whose ID starts with
// prefix, e.g. "compat:" or "user:". The longest matching prefix wins; the
// behaviour is chosen when a slot's actor starts, not on each Get.
func WithPrefixBehaviour(prefix string, b Behaviour) Option {
	return func(c *config) error {
		if prefix == "" {
			return optionError("WithPrefixBehaviour", "prefix is empty (use WithBehaviour for the default)")
		}
		if err := validateBehaviour(b); err != nil {
			return &OptionError{Option: "WithPrefixBehaviour", Reason: fmt.Sprintf("%q: %v", prefix, err), Err: err}
		}
		c.rules = append(c.rules, prefixBehaviour{prefix: prefix, b: b})
		return nil
	}
}

// WithMaxSlots bounds the number of cached slots to n (default: unbounded).
// When the cache is full, a newly loaded value must be at least as
// frequently requested as the least requested of a sample of cached slots
// to take its place (TinyLFU-style admission: one-hit wonders and scans do
// not flush hot slots); otherwise it is returned to its callers but not
// cached. Evictions are counted in Stats by reason.
func WithMaxSlots(n int) Option {
	return func(c *config) error {
		c.maxSlots = n
		if n <= 0 {
			return optionError("WithMaxSlots", "must be positive, got %d", n)
		}
		return nil
	}
}

// WithPassivateAfter sets how long a slot actor with nothing to do stays
// bound to its slot before it gives the slot up and returns to the pool of
// idle actors (default 10 ms); the slot's cached entry stays either way.
// While bound, a miss on the slot goes straight to its actor; once it is
// given up, the next miss goes through the router first (about a
// microsecond more). Zero gives the slot up as soon as the actor is idle:
// the fewest bound actors, for caches that rarely reload a slot soon after
// loading it. Longer keeps more actors bound (one per slot missed within
// the window).
func WithPassivateAfter(d time.Duration) Option {
	return func(c *config) error {
		c.passivateAfter = d
		if d < 0 {
			return optionError("WithPassivateAfter", "must not be negative, got %v", d)
		}
		return nil
	}
}
