package slotcache

import (
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/slotcache/slotcache/bridge"
	"github.com/slotcache/slotcache/internal/core"
	"github.com/slotcache/slotcache/internal/fill"
)

// The coordinator is the engine's core.Filler.
var _ core.Filler = (*fill.Coordinator)(nil)

// Defaults of FillPolicy, for the fields left zero.
const (
	DefaultFillLease     = 10 * time.Second
	DefaultFillWait      = 5 * time.Second
	DefaultFillPollMin   = 10 * time.Millisecond
	DefaultFillPollMax   = 200 * time.Millisecond
	DefaultFillOpTimeout = time.Second
)

// FillPolicy configures fill coordination across instances (WithFill).
// Zero fields take the defaults above; the invariants are checked after
// defaults are applied.
type FillPolicy struct {
	// SharedTTL is how long a slot's shared copy lives in Redis (default:
	// the engine TTL, WithTTL, whatever it is when the value is loaded).
	// Longer than the TTL, it makes the two tiers of the in-memory + Redis
	// hybrid: each instance keeps its copy for the TTL and refills it from
	// the shared copy, and the source is asked about once per SharedTTL
	// for the whole fleet, including instances started meanwhile. It must
	// be at least the TTL (if SetTTL later raises the TTL above it, the
	// TTL wins). Behaviours decide it per value (Decision.SharedTTL);
	// Invalidate and InvalidateAll drop both tiers whatever it is.
	SharedTTL time.Duration
	// Lease is how long a leader holds a slot's lock (default 10 s). It is
	// an efficiency lock: a load slower than Lease lets another instance
	// take the lock and load too, and the slow leader's late value is
	// rejected at commit, never written over the newer one. Make it
	// comfortably longer than your slowest normal load.
	Lease time.Duration
	// Wait bounds how long a follower waits for another instance's fill
	// before it loads locally (default 5 s). It must be shorter than Lease
	// (followers give up before the lock they wait on could expire) and
	// shorter than the engine's load timeout (WithLoadTimeout), which
	// bounds the follower's whole load.
	Wait time.Duration
	// PollMin and PollMax bound a follower's pause between two checks of
	// the shared copy (defaults 10 ms and 200 ms): each pause is random
	// between PollMin and a ceiling that doubles from 2·PollMin up to
	// PollMax. Followers are woken at once by the leader's commit notice;
	// polling is the fallback for a lost notice. PollMin must be positive,
	// PollMax at least PollMin and shorter than Wait.
	PollMin, PollMax time.Duration
	// Codec encodes values for the shared tier (default JSONCodec, which
	// decodes into any: map[string]any, []any, float64, string, bool).
	// nil values and []byte values bypass the codec and come back as they
	// went in. Instances that get a value from the shared tier see what
	// the codec decodes, not what the loader returned: supply a Codec that
	// returns your concrete types (JSONOf for a single type) if callers
	// use GetAs or type assertions. A value that does not encode is served
	// and cached on the instance that loaded it, not shared, and logged.
	Codec Codec
	// KeyPrefix starts every Redis key of the shared tier (default: the
	// channel name followed by ":fill:"), so that caches on different
	// channels, which invalidate separately, never share values. It must
	// not contain '{' or '}': keys carry a hash tag for Redis Cluster.
	KeyPrefix string
	// OpTimeout bounds each Redis call on the fill path (default 1 s);
	// past it the miss degrades to a local load.
	OpTimeout time.Duration
}

// Codec turns values into bytes for the shared tier and back. slotID lets
// one codec pick a concrete type per kind of slot, e.g. by prefix. It must
// be safe for concurrent use. nil and []byte values never reach it.
type Codec interface {
	Marshal(slotID string, v any) ([]byte, error)
	Unmarshal(slotID string, data []byte) (any, error)
}

// JSONCodec is the default Codec: encoding/json, decoding into any.
type JSONCodec struct{}

// Marshal implements Codec.
func (JSONCodec) Marshal(_ string, v any) ([]byte, error) { return json.Marshal(v) }

// Unmarshal implements Codec.
func (JSONCodec) Unmarshal(_ string, data []byte) (any, error) {
	var v any
	err := json.Unmarshal(data, &v)
	return v, err
}

// JSONOf returns a JSON Codec that decodes every value into a V, for an
// engine whose slots all hold Vs: instances that read the shared tier then
// see the same type as the instance that loaded it.
func JSONOf[V any]() Codec { return jsonOf[V]{} }

type jsonOf[V any] struct{}

func (jsonOf[V]) Marshal(_ string, v any) ([]byte, error) { return json.Marshal(v) }

func (jsonOf[V]) Unmarshal(_ string, data []byte) (any, error) {
	var v V
	err := json.Unmarshal(data, &v)
	return v, err
}

// WithFill makes instances coordinate their loads through Redis, so that a
// cold or just-invalidated slot is loaded once across the fleet rather than
// once per instance. It needs Redis (WithRedis or FromEnv with REDIS_URL).
//
// On a local miss the engine reads the slot's shared copy in Redis and, if
// it is there, caches it locally (see below). If not, one instance takes a
// lease lock and loads; the others wait for its commit (woken by a notice
// on the invalidation channel, or polling) and load locally after Wait.
// Invalidate and InvalidateAll delete the shared copy before they publish,
// and a leader whose slot was invalidated while it loaded cannot commit its
// value; a value whose commit was refused answers the callers that waited
// for it and is never cached, whatever the behaviour says. Any Redis error
// degrades to the local load: a Get never fails because of the shared tier.
//
// Lifetimes: the slot's behaviour runs once per load, in the slot's actor,
// on the instance that loaded; the shared copy lives for the SharedTTL it
// decided (FillPolicy.SharedTTL unless the behaviour says otherwise; by
// default the TTL). An instance that reads the shared copy runs its
// behaviour on it and caches it at most for the copy's remaining life, so
// that no local copy outlives the shared one. With RefreshAhead, one
// instance reloads the shared copy before it expires (see RefreshAhead).
func WithFill(p FillPolicy) Option {
	return func(c *config) error {
		p = p.withDefaults()
		if err := p.validate(); err != nil {
			return err
		}
		c.fill = &p
		return nil
	}
}

func (p FillPolicy) withDefaults() FillPolicy {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&p.Lease, DefaultFillLease)
	def(&p.Wait, DefaultFillWait)
	def(&p.PollMin, DefaultFillPollMin)
	def(&p.PollMax, DefaultFillPollMax)
	def(&p.OpTimeout, DefaultFillOpTimeout)
	if p.Codec == nil {
		p.Codec = JSONCodec{}
	}
	return p
}

// validate names every violated invariant.
func (p FillPolicy) validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, optionError("WithFill", format, args...))
	}
	if p.Lease < 0 {
		bad("Lease must be positive, got %v", p.Lease)
	}
	if p.Wait < 0 {
		bad("Wait must be positive, got %v", p.Wait)
	}
	if p.Wait >= p.Lease {
		bad("Wait (%v) must be shorter than Lease (%v)", p.Wait, p.Lease)
	}
	if p.PollMin <= 0 {
		bad("PollMin must be positive, got %v", p.PollMin)
	}
	if p.PollMax < p.PollMin {
		bad("PollMax (%v) must be at least PollMin (%v)", p.PollMax, p.PollMin)
	}
	if p.PollMax >= p.Wait {
		bad("PollMax (%v) must be shorter than Wait (%v)", p.PollMax, p.Wait)
	}
	if p.SharedTTL < 0 {
		bad("SharedTTL must be positive, got %v", p.SharedTTL)
	}
	if p.OpTimeout < 0 {
		bad("OpTimeout must be positive, got %v", p.OpTimeout)
	}
	if strings.ContainsAny(p.KeyPrefix, "{}") {
		bad("KeyPrefix %q must not contain '{' or '}'", p.KeyPrefix)
	}
	return errors.Join(errs...)
}

// checkFill checks what WithFill depends on in the rest of the
// configuration, once every option has been applied.
func (c *config) checkFill() error {
	p := c.fill
	if p == nil {
		return nil
	}
	var errs []error
	if c.redis == nil && c.redisURL == "" {
		errs = append(errs, optionError("WithFill", "needs Redis: add WithRedis, or FromEnv with REDIS_URL set"))
	}
	if p.SharedTTL > 0 && p.SharedTTL < c.ttl {
		errs = append(errs, optionError("WithFill", "SharedTTL (%v) must be at least the TTL (%v, WithTTL): no local copy may outlive the shared one", p.SharedTTL, c.ttl))
	}
	if p.Wait >= c.loadTimeout {
		errs = append(errs, optionError("WithFill", "Wait (%v) must be shorter than the load timeout (%v, WithLoadTimeout), which bounds a follower's whole load", p.Wait, c.loadTimeout))
	}
	if p.KeyPrefix == "" && strings.ContainsAny(c.channel, "{}") {
		errs = append(errs, optionError("WithFill", "the channel %q contains '{' or '}', so it cannot be the key prefix: set FillPolicy.KeyPrefix", c.channel))
	}
	return errors.Join(errs...)
}

// newFiller returns the coordinator for the engine's configuration.
func (e *Engine) newFiller() *fill.Coordinator {
	p := e.cfg.fill
	prefix := p.KeyPrefix
	if prefix == "" {
		prefix = e.cfg.channel + ":fill:"
	}
	return fill.New(fill.Config{
		Client:    e.client,
		Prefix:    prefix,
		Lease:     p.Lease,
		Wait:      p.Wait,
		PollMin:   p.PollMin,
		PollMax:   p.PollMax,
		OpTimeout: p.OpTimeout,
		Codec:     p.Codec,
		Channel:   e.cfg.channel,
		Notice:    e.fillNotice,
		Logger:    e.cfg.logger,
		Observe:   e.observe,
		Signing:   e.cfg.fillSigning(), // see signing.go
		Refused:   e.fillRefused("fill " + prefix),
	})
}

// fillRefused returns what tells the engine's bridge of the shared tier's
// refusals, which it shows with its own (Stats.RedisRefusal, the Error
// log), under command. The Sub exists before any load runs, as for
// fillNotice.
func (e *Engine) fillRefused(command string) func(error) bool {
	return func(err error) bool {
		if e.sub == nil {
			return false
		}
		return e.sub.Bridge().ReportRefusal(command, err)
	}
}

// fillNotice is the payload of the notice that slotID was filled: signed
// as the engine's channel signs. The channel's Sub exists before any load
// runs (start attaches it before New returns).
func (e *Engine) fillNotice(slotID string) []byte {
	if e.sub == nil {
		return bridge.EncodeFilled(slotID, e.cfg.origin)
	}
	return e.sub.EncodeFilled(slotID)
}

// fillStats copies the coordinator's counters into st.
func (e *Engine) fillStats(st *Stats) {
	if e.filler == nil {
		return
	}
	f := e.filler.Stats()
	st.FillSharedHits = f.Of(fill.SharedHit)
	st.FillLeaderLoads = f.Of(fill.LeaderLoad)
	st.FillFollowerWoken = f.Of(fill.FollowerWoken)
	st.FillFollowerPolled = f.Of(fill.FollowerPolled)
	st.FillFollowerTimeouts = f.Of(fill.FollowerTimeout)
	st.FillDegraded = f.Of(fill.Degraded)
	st.FillStaleCommitsRejected = f.Of(fill.StaleCommitRejected)
	st.FillCancelled = f.Of(fill.Cancelled)
	st.FillSharedRefreshes = f.Of(fill.SharedRefresh)
	st.FillUnverified = f.Of(fill.Unverified)
	st.FillUncodable = f.Uncodable
	st.FillWaiting = uint64(max(f.Waiting, 0))
}
