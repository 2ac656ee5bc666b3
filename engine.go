// Package slotcache is a read-through cache engine for high-concurrency Go
// servers: concurrent misses on a key share one loader call, hits cost a map
// lookup and a few atomic loads, an invalidation is never overtaken by a
// load that started before it, and several server instances stay coherent
// through Redis pub/sub.
//
// Every cache key (a slot) is owned, while it has work, by an actor that
// serialises its loads and decides what to cache; a router actor binds
// actors to slots and supervises them; a bridge subscribes to Redis and
// turns other instances' invalidations into local ones. Hits never touch an
// actor. Without Redis the engine is a purely local TTL cache.
package slotcache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/redis/go-redis/v9"

	"github.com/slotcache/slotcache/actors"
	"github.com/slotcache/slotcache/bridge"
	"github.com/slotcache/slotcache/internal/core"
	"github.com/slotcache/slotcache/internal/fill"
	"github.com/slotcache/slotcache/messages"
)

// Loader loads the value of slotID on a miss. One call serves every caller
// waiting on that slot; ctx is cancelled at the load timeout or at Close,
// not when a caller gives up. A nil value with a nil error is cached like
// any value; an error is returned to every waiter and not cached.
type Loader func(ctx context.Context, slotID string) (any, error)

// closeGrace is how long Close waits for loaders to return after it has
// cancelled their contexts; Shutdown takes the bound from its caller.
const closeGrace = 2 * time.Second

// Engine is a read-through cache. It is safe for concurrent use; create it
// with New and release it with Close.
type Engine struct {
	cfg    config
	env    *core.Env
	cancel context.CancelFunc
	dir    *core.Directory // the router holds its writer
	host   *host           // runs the actors; owned by the engine New made (own)
	own    *host           // non-nil only on that engine: Shutdown stops it
	router *actor.PID
	bridge *bridge.Bridge        // the subscription this engine owns; nil without Redis or when shared
	sub    *bridge.Sub           // this engine's channel on its own or its parent's bridge; nil without Redis
	client redis.UniversalClient // the host's, unless WithRedis gave a named cache its own
	filler *fill.Coordinator     // nil without WithFill; also env.Filler

	parent   *Engine // nil for an engine made by New
	name     string  // of a named cache
	mu       sync.Mutex
	children map[string]*Engine // open named caches (NewCache)

	closed    atomic.Bool
	closeOnce sync.Once
	observe   *core.Observe // latency histograms and the Observer's hook
	totals    totals        // what Reset retired, for Totals
}

// New returns a running engine. It never waits for Redis: when Redis is
// unreachable the engine works locally and keeps reconnecting in the
// background. Invalid options make New fail with an error naming each one.
func New(opts ...Option) (*Engine, error) {
	cfg, err := configure(defaultConfig(), opts)
	if err = errors.Join(err, cfg.checkUntyped()); err != nil {
		return nil, err
	}
	h := newHost(cfg)
	e := start(cfg, h, nil)
	e.own = h
	return e, nil
}

// configure applies opts to cfg, collecting every error so that New names
// each invalid option at once.
func configure(cfg config, opts []Option) (config, error) {
	var errs []error
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, cfg.checkFill(), cfg.checkStaleness(), cfg.checkSigning(), cfg.checkRedisTLS(), cfg.checkDamping()) // need every option applied
	return cfg, errors.Join(errs...)
}

// start builds and starts an engine or a named cache (of parent) on h,
// with cfg's Redis client, or h's when cfg names none by itself.
func start(cfg config, h *host, parent *Engine) *Engine {
	e := &Engine{cfg: cfg, client: cfg.redis, host: h, parent: parent, observe: &core.Observe{Hook: hook(cfg.observer)}}
	if cfg.redisURL != "" {
		e.client = h.client
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	if cfg.fill != nil { // checkFill made sure there is a client
		e.filler = e.newFiller()
	}
	dir, writer := core.NewDirectory()
	e.dir = dir
	ecfg := core.EnvConfig{
		Ctx:            ctx,
		Root:           h.system.Root,
		Clock:          h.clock,
		TTL:            cfg.ttl,
		LoadTimeout:    cfg.loadTimeout,
		PassivateAfter: cfg.passivateAfter,
		Logger:         cfg.logger,
		MaxSlots:       cfg.maxSlots,
		PolicyFor:      policyResolver(cfg.behaviour, cfg.rules, cfg.logger),
		Observe:        e.observe,
	}
	if e.filler != nil {
		ecfg.Filler = e.filler
		ecfg.SharedTTL = cfg.fill.SharedTTL
	}
	e.env = core.NewEnv(ecfg, dir)
	e.env.SetMaxStaleness(cfg.enforcedStaleness())
	e.router = h.system.Root.Spawn(actors.RouterProps(e.env, writer, h.workers))
	if e.client != nil && parent != nil && parent.bridge != nil && e.client == parent.client {
		// A named cache on its parent's client shares its subscription.
		if sub, err := parent.bridge.Attach(cfg.channel, (*remote)(e), cfg.bridgeSigning(), cfg.dampingBound()); err == nil {
			e.sub = sub
		}
	}
	if e.client != nil && e.sub == nil {
		e.bridge = bridge.Start(bridge.Config{
			Client:          e.client,
			Channel:         cfg.channel,
			Origin:          cfg.origin,
			Handler:         (*remote)(e),
			Heartbeat:       cfg.heartbeat,
			PublishTimeout:  cfg.publishTimeout,
			MaxMessageBytes: cfg.maxMessageBytes,
			Damping:         cfg.dampingBound(),
			BackoffMin:      50 * time.Millisecond,
			BackoffMax:      5 * time.Second,
			Logger:          cfg.logger,
			Sentinel:        cfg.sentinelWatch(), // see fromenv.go
			Signing:         cfg.bridgeSigning(), // see signing.go
		})
		e.sub = e.bridge.Primary()
	}
	e.prepareSub() // see outbox.go
	return e
}

// Get returns the value of slotID, calling load on a miss. Concurrent
// misses on a slot share one load and all get its result. A caller whose ctx
// ends gets ctx.Err() at once while the load goes on for the others.
//
// A fresh hit sends no message, takes no lock and allocates nothing.
func (e *Engine) Get(ctx context.Context, slotID string, load Loader) (any, error) {
	if v, ok := e.hit(slotID); ok {
		return v, nil
	}
	if load == nil {
		return nil, fmt.Errorf("slotcache: Get %q: nil loader", slotID)
	}
	return e.miss(ctx, slotID, load)
}

// hit serves slotID from its handle if it holds a fresh entry.
func (e *Engine) hit(slotID string) (any, bool) {
	h, ok := e.dir.Load(slotID)
	if !ok {
		return nil, false
	}
	ent, late := e.env.Lookup(h)
	if ent == nil || e.closed.Load() {
		return nil, false
	}
	if late && ent.RequestRefresh(e.env.Clock.Now()) {
		e.sendTo(h, messages.RefreshRequest)
	}
	if b := e.env.Bound; b != nil {
		h.Touch(b.Age())
	}
	e.env.Stats.Hits.Inc()
	return ent.Value, true
}

// miss asks the slot's actor and waits for its answer, the caller's ctx,
// or Close. The request cannot be lost: it is admitted by the slot's
// binding before it is sent, or goes through the router, which binds an
// actor (see actors/lifecycle.go).
func (e *Engine) miss(ctx context.Context, slotID string, load Loader) (any, error) {
	if e.closed.Load() {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e.env.Stats.Misses.Add(1)
	c := calls.Get().(*call)
	c.get.Ctx, c.get.Load = ctx, load
	e.sendRouted(slotID, &c.get, &c.route)
	select {
	case r := <-c.reply:
		c.done()
		return r.Value, r.Err
	case <-ctx.Done(): // c stays out of the pool: its answer may still come
		return nil, ctx.Err()
	case <-e.env.Ctx.Done():
		return nil, ErrClosed
	}
}

// send delivers msg to slotID's actor: straight to it if the slot has one,
// through the router, which binds one, if not.
func (e *Engine) send(slotID string, msg any) { e.sendRouted(slotID, msg, nil) }

// sendRouted is send with route, if not nil, as the message to the
// router, so that a pooled request brings its own (see call).
func (e *Engine) sendRouted(slotID string, msg any, route *messages.Route) {
	if h, ok := e.dir.Load(slotID); ok {
		if b := h.Enter(); b != nil {
			e.env.Root.Send(b.PID, msg)
			return
		}
	}
	if route == nil {
		route = new(messages.Route)
	}
	route.ID, route.Msg = slotID, msg
	e.env.Root.Send(e.router, route)
}

// sendTo is send for a slot whose handle the caller holds.
func (e *Engine) sendTo(h *core.Handle, msg any) {
	if b := h.Enter(); b != nil {
		e.env.Root.Send(b.PID, msg)
		return
	}
	e.env.Root.Send(e.router, &messages.Route{ID: h.ID, Msg: msg})
}

// Invalidate drops slotID here, at once and before any load in flight can
// cache an older value, then tells the other instances. When Invalidate
// returns, no Get that starts on this instance returns the old value, with
// or without WithFill. If Redis does not take the publish (and, with
// WithFill, the delete of the shared copy) within the publish timeout, it
// returns an error wrapping ErrQueued: the invalidation is published when
// Redis is back. The local drop has happened regardless.
func (e *Engine) Invalidate(ctx context.Context, slotID string) error {
	return e.invalidate(ctx, slotID, e.publishInvalidation)
}

// InvalidateAll drops every slot here, then tells the other instances.
// Like Invalidate, it fails only if the publish was queued.
func (e *Engine) InvalidateAll(ctx context.Context) error {
	return e.invalidateAll(ctx, e.publishInvalidation)
}

// invalidate is Invalidate with publish telling the other instances (and,
// with WithFill, deleting the shared copy): plain or confirmed.
func (e *Engine) invalidate(ctx context.Context, slotID string, publish publishFunc) error {
	if e.closed.Load() {
		return ErrClosed
	}
	e.env.Stats.Invalidations.Add(1)
	if e.env.Filler == nil {
		e.invalidateLocal(slotID)
		return e.observed(ctx, slotID, publish)
	}
	// Readers miss at once, then the shared copy goes (with the publish). A
	// load that starts meanwhile may read the old copy: the invalidation
	// proper, after the delete, overtakes it as it overtakes any load.
	if h, ok := e.dir.Load(slotID); ok {
		h.Invalidate()
	}
	err := e.observed(ctx, slotID, publish)
	e.invalidateLocal(slotID)
	return err
}

// invalidateAll is InvalidateAll with publish, as invalidate.
func (e *Engine) invalidateAll(ctx context.Context, publish publishFunc) error {
	if e.closed.Load() {
		return ErrClosed
	}
	e.env.Stats.Invalidations.Add(1)
	if e.env.Filler == nil {
		e.flushLocal()
		return e.observed(ctx, bridge.All, publish)
	}
	// As in invalidate: readers miss at once, the shared tier is retired
	// with the publish, and the flush proper overtakes what read it
	// meanwhile.
	e.env.Flush()
	err := e.observed(ctx, bridge.All, publish)
	e.flushLocal()
	return err
}

// broadcast is the plain publish of an invalidation of slotID (bridge.All
// for every slot), observed: with WithFill the shared copy goes first, so
// that nobody refills from it; what Redis does not take in time is queued
// (see outbox.go).
func (e *Engine) broadcast(ctx context.Context, slotID string) error {
	return e.observed(ctx, slotID, e.publishInvalidation)
}

// publishFunc makes an invalidation of slotID (bridge.All for every slot)
// reach the other instances: publishInvalidation or publishConfirmed.
type publishFunc func(ctx context.Context, slotID string) error

// invalidateLocal bumps the slot's generation, which readers see at once,
// then lets the slot's owner free its entry and run its behaviour: its
// actor if it has one, the router if it has none but holds an entry. A
// slot with nothing cached and no actor has nothing to free, and one
// without a behaviour is freed here.
func (e *Engine) invalidateLocal(slotID string) {
	h, ok := e.dir.Load(slotID)
	if !ok {
		return
	}
	h.Invalidate()
	if _, plain := h.Policy.(core.DefaultPolicy); plain {
		// No behaviour to run: free the entry here, no message. Its actor,
		// if it has one, never needs telling: readers already miss.
		e.env.Reclaim(h)
		return
	}
	if b := h.Enter(); b != nil {
		e.env.Root.Send(b.PID, invalidate)
	} else if h.Entry() != nil {
		e.env.Root.Send(e.router, &messages.Route{ID: slotID, Msg: invalidate})
	}
}

// invalidate is the one Invalidate message; it carries nothing.
var invalidate = &messages.Invalidate{}

// flushLocal bumps the epoch, which readers see at once, then, if the
// engine has behaviours, lets every slot holding an entry free it and run
// its OnInvalidate. Without behaviours nothing needs to run: the epoch
// already hides every entry, and the sweep frees them, so a flush costs no
// walk of the directory (0.6 µs a slot, 60 ms of router time at 100 000
// slots; BenchmarkRouterInvalidateAllWalk).
func (e *Engine) flushLocal() {
	e.env.Flush()
	if e.cfg.behaviour != nil || len(e.cfg.rules) > 0 {
		e.env.Root.Send(e.router, &messages.InvalidateAll{})
	}
}

// WaitReady blocks until the engine receives other instances'
// invalidations, that is until Redis confirmed its subscription, or until
// ctx ends. Without Redis it returns at once. Serving before it is safe but
// may briefly miss an invalidation that another instance publishes.
func (e *Engine) WaitReady(ctx context.Context) error {
	if e.sub == nil {
		return nil
	}
	select {
	case <-e.sub.Ready():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close is Shutdown bounded by 2 s (closeGrace), the common case.
func (e *Engine) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeGrace)
	defer cancel()
	return e.Shutdown(ctx)
}

// Shutdown stops every actor, timer and goroutine the engine started,
// cancels loads in flight (their waiters get ErrClosed), closes the Redis
// client if FromEnv dialled it, and closes the engine's caches. It waits
// for loaders to return, which they do when they honour their context,
// until ctx ends: then it returns an error wrapping ctx.Err() and leaves
// the stragglers behind. Calls after the first do nothing.
func (e *Engine) Shutdown(ctx context.Context) error {
	var err error
	e.closeOnce.Do(func() {
		e.mu.Lock()
		e.closed.Store(true)
		children := e.children
		e.children = nil
		e.mu.Unlock()
		for _, c := range children {
			err = errors.Join(err, c.Shutdown(ctx))
		}
		e.env.Flush()
		e.cancel()
		if e.env.Filler != nil {
			e.env.Filler.Close()
		}
		if e.bridge != nil {
			e.bridge.Close()
		} else if e.sub != nil {
			e.sub.Detach()
		}
		if _, perr := e.host.system.Root.PoisonFuture(e.router).Result(); perr != nil {
			err = errors.Join(err, fmt.Errorf("slotcache: stopping the router: %w", perr))
		}
		err = errors.Join(err, e.env.AwaitLoaders(ctx))
		if e.own != nil {
			err = errors.Join(err, e.own.close(ctx))
		} else {
			e.parent.forget(e)
		}
	})
	return err
}

// remote is the engine as the bridge sees it: invalidations from other
// instances apply locally and are not published again.
type remote Engine

func (r *remote) Invalidate(slotID string) { (*Engine)(r).invalidateLocal(slotID) }
func (r *remote) InvalidateAll()           { (*Engine)(r).flushLocal() }
func (r *remote) Resync()                  { (*Engine)(r).flushLocal() }

// Filled wakes the local followers of slotID: another instance committed
// it to the shared tier, or gave up filling it.
func (r *remote) Filled(slotID string) {
	if r.filler != nil {
		r.filler.Filled(slotID)
	}
}
