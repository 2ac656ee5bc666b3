package bridge

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Handler receives what the bridge hears. Invalidate, InvalidateAll and
// Filled are called from the bridge's one receiving goroutine; Resync also comes from
// its heartbeat watcher, possibly concurrently; with Config.Damping,
// Invalidate and InvalidateAll also come from the damper's flush timer, one
// at a time. All must return quickly: a slow subscriber is disconnected by
// Redis.
type Handler interface {
	// Invalidate drops slotID, invalidated by another instance.
	Invalidate(slotID string)
	// InvalidateAll drops every slot, invalidated by another instance.
	InvalidateAll()
	// Resync drops every slot because messages may have been lost: the
	// subscription was (re)established or found dead.
	Resync()
	// Filled tells that another instance committed slotID to the shared
	// fill tier, or gave up filling it, so that followers waiting for it
	// look again now (see WithFill).
	Filled(slotID string)
	// Watermark tells that every message published on the channel before
	// sent (this process's clock) has been delivered and handled: the echo
	// of a heartbeat sent then came back. Called from the receiving
	// goroutine, at most once per heartbeat, or, when the damper held
	// invalidations at the echo, by the flush that applies them.
	Watermark(sent time.Time)
}

// Config configures a Bridge. Every field but Logger is required.
type Config struct {
	Client  redis.UniversalClient
	Channel string
	Origin  string
	Handler Handler
	// Heartbeat is how often the bridge publishes to itself; no echo for
	// three intervals means the subscription is dead. Zero disables it.
	Heartbeat time.Duration
	// PublishTimeout bounds one Publish.
	PublishTimeout time.Duration
	// MaxMessageBytes bounds an accepted message; larger ones are ignored
	// and counted as malformed.
	MaxMessageBytes int
	// BackoffMin and BackoffMax bound the wait between reconnection attempts.
	BackoffMin, BackoffMax time.Duration
	// OutboxMax bounds the invalidations queued per channel while Redis
	// does not take them (see Sub.Publish); past it they fold into one
	// invalidation of every slot. Zero means DefaultOutboxMax.
	OutboxMax int
	// Sentinel, when set, makes the bridge listen to the sentinels for a
	// failover of its primary and resubscribe at once (see SentinelWatch).
	Sentinel *SentinelWatch
	// Damping bounds the window within which repeated remote invalidations
	// of a slot, or of every slot, are held and coalesced into one flush at
	// its end (see damp.go): the first is applied at once, the others at
	// most one window later. Windows last 5 ms, but double while a storm of
	// invalidations of every slot lasts, up to Damping. Zero applies every
	// invalidation at once.
	Damping time.Duration
	// CloseTimeout bounds Close. A goroutine stuck in a Redis call that
	// ignores its context (a dial or HELLO to a frozen server, with the
	// client's ReadTimeout -1 or ContextTimeoutEnabled off) is left to end
	// when the client gives up or is closed. Zero means one second.
	CloseTimeout time.Duration
	Logger       *slog.Logger
	// Signing, when not nil, signs the messages of Config.Channel and
	// verifies those it receives (see Signing); nil keeps the seed's
	// unsigned messages. Attached channels take their own (Attach).
	Signing *Signing
}

// Bridge owns one subscription (one connection, one heartbeat) to the
// invalidation channel of Config and to the channels attached later.
type Bridge struct {
	cfg       Config
	hbChannel string
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	start     time.Time
	lastEcho  atomic.Int64 // nanoseconds since start when Redis was last heard (echo or confirmation)
	hbPending atomic.Bool  // a heartbeat publish is in flight
	primary   *Sub         // Config.Channel

	sessions   atomic.Uint64                // numbers sessions, for Sub.session
	stuck      atomic.Int64                 // abandoned attempts still blocked in go-redis
	stuckTry   time.Time                    // the last attempt past stuckLimit; run's goroutine only
	lossReason atomic.Pointer[lossReason]   // why the last session ended
	failing    atomic.Bool                  // the outage is logged already
	switching  atomic.Pointer[redis.PubSub] // closed by switched, which logged why
	stats      struct{ switches atomic.Uint64 }
	hb         *heartbeatSeal // authenticates the heartbeat (signhb.go)
	refusals   refusals       // what Redis refuses, for Refusal (refusal.go)

	mu   sync.Mutex
	subs map[string]*Sub // attached channels
	acks map[string]*Sub // their ack channels (see confirm.go)
	ps   *redis.PubSub   // the live session's, nil between sessions
}

// Start starts the bridge's goroutine and returns at once, whether or not
// Redis is reachable.
func Start(cfg Config) *Bridge {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.OutboxMax <= 0 {
		cfg.OutboxMax = DefaultOutboxMax
	}
	if cfg.CloseTimeout <= 0 {
		cfg.CloseTimeout = time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &Bridge{
		cfg: cfg,
		// The heartbeat has a channel of its own, named after the origin, so
		// that other instances, including the seed's Node module, never see
		// it.
		hbChannel: cfg.Channel + ":heartbeat:" + cfg.Origin,
		ctx:       ctx,
		cancel:    cancel,
		start:     time.Now(),
		hb:        newHeartbeatSeal(),
	}
	b.primary = newSub(b, cfg.Channel, cfg.Handler, cfg.Signing, cfg.Damping)
	b.subs = map[string]*Sub{cfg.Channel: b.primary}
	b.acks = map[string]*Sub{b.primary.ack: b.primary}
	b.wg.Add(1)
	go b.run()
	if w := cfg.Sentinel; w != nil && len(w.Addrs) > 0 {
		b.wg.Add(1)
		go b.watchSentinels(w)
	}
	return b
}

// Primary is the Sub of Config.Channel.
func (b *Bridge) Primary() *Sub { return b.primary }

// Ready is closed once the first subscription is confirmed by Redis: from
// then on, invalidations published by other instances reach this one.
func (b *Bridge) Ready() <-chan struct{} { return b.primary.Ready() }

// Publish broadcasts an invalidation of slotID (All for every slot) on
// Config.Channel, waiting at most the publish timeout.
func (b *Bridge) Publish(ctx context.Context, slotID string) error {
	return b.primary.Publish(ctx, slotID)
}

// publish sends payload to channel and gives up when ctx ends; it returns
// how many subscribers PUBLISH reached. go-redis bounds a socket read by
// the client's ReadTimeout, not by ctx (unless the client sets
// ContextTimeoutEnabled), so waiting for the call itself would hold the
// caller for ReadTimeout on a half-open link, or forever with ReadTimeout
// -1. An abandoned call ends in the background when the client gives up or
// is closed.
func (b *Bridge) publish(ctx context.Context, channel string, payload []byte) (int64, error) {
	type result struct {
		n   int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := b.cfg.Client.Publish(ctx, channel, payload).Result()
		b.publishChecked(channel, err)
		done <- result{n, err}
	}()
	select {
	case r := <-done:
		return r.n, r.err
	case <-ctx.Done():
		return 0, b.gaveUp(channel, ctx.Err())
	}
}

// Close stops the bridge and waits for its goroutines, at most
// Config.CloseTimeout: a goroutine blocked in a Redis call that ignores its
// context (go-redis dials and reads honour the client's timeouts, not the
// context, unless ContextTimeoutEnabled is set) is left behind and ends as
// soon as that call returns, which closing the client forces. It does not
// close the Redis client, which belongs to the caller.
func (b *Bridge) Close() {
	b.mu.Lock()
	b.cancel() // under mu, so that async never adds to a finished wg
	b.mu.Unlock()
	b.each(func(s *Sub) { s.damp.halt() }) // no flush timer outlives Close
	done := make(chan struct{})
	go func() {
		b.wg.Wait()
		close(done)
	}()
	t := time.NewTimer(b.cfg.CloseTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		b.cfg.Logger.Warn("slotcache: Redis did not answer before Close; leaving its calls to end when the client gives up or is closed",
			"channel", b.cfg.Channel, "waited", b.cfg.CloseTimeout)
	}
}

// async runs f on a goroutine that Close waits for, within its bound, unless
// the bridge is closed, and reports whether it does. It is how the bridge does Redis I/O that must hold
// neither b.mu nor its caller.
func (b *Bridge) async(f func()) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.goLocked(f)
}

// goLocked is async for callers that hold b.mu. It reports whether f runs.
func (b *Bridge) goLocked(f func()) bool {
	if b.ctx.Err() != nil {
		return false
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		f()
	}()
	return true
}

func (b *Bridge) now() int64 { return int64(time.Since(b.start)) }

// run keeps a subscription alive until Close, backing off between failed
// attempts.
func (b *Bridge) run() {
	defer b.wg.Done()
	b.retry(func(int) bool { return b.session() })
}

// retry calls attempt (with the attempt's number) until the bridge closes,
// pausing between two calls for a jittered backoff that doubles from
// BackoffMin up to BackoffMax and starts again after an attempt that
// reports it got somewhere.
func (b *Bridge) retry(attempt func(i int) (ok bool)) {
	backoff := b.cfg.BackoffMin
	for i := 0; b.ctx.Err() == nil; i++ {
		if attempt(i) {
			backoff = b.cfg.BackoffMin
		}
		t := time.NewTimer(jitter(backoff))
		select {
		case <-b.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, b.cfg.BackoffMax)
	}
}
