package fill

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/slotcache/slotcache/internal/core"
)

// errCooling is the cause of misses degraded while the breaker is open.
var errCooling = errors.New("shared tier skipped: Redis failed moments ago")

// Coordinator implements core.Filler on a Redis shared tier. It is safe for
// concurrent use.
type Coordinator struct {
	cfg     Config
	leaseMs int64
	ns      atomic.Value // string: the namespace seen last, "" before the first look
	wake    wakeups
	brk     breaker
	refused atomic.Bool // Config.Refused said yes, and no success since
	stats   counters
}

// New returns a coordinator. It does not touch Redis.
func New(cfg Config) *Coordinator {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Coordinator{cfg: cfg, leaseMs: max(cfg.Lease.Milliseconds(), 1)}
	c.ns.Store("")
	return c
}

// Load returns slotID's value: from the shared tier, or loaded by this
// instance as leader, or filled by another instance while this one
// followed, or loaded locally when the wait ran out or Redis failed, and
// says which (core.FillSource). A leader asks slot how to share what it
// loaded. A panic in load propagates after the lock is released.
func (c *Coordinator) Load(ctx context.Context, slotID string, load core.Loader, slot core.FillSlot) core.FillResult {
	m := &miss{c: c, slot: slotID, start: time.Now(), target: slot}
	returned := false
	defer func() { m.finish(!returned) }()
	r := m.run(ctx, load)
	returned = true
	return r
}

// Filled wakes this instance's followers of slotID: another instance
// committed it, or gave up its lock.
func (c *Coordinator) Filled(slotID string) { c.wake.fire(slotID) }

// Drop deletes the shared copy and lock of slotID in the current
// namespace, or, for "*", retires the namespace: every key in it becomes
// unreachable at once, whatever their number and on every Cluster node.
func (c *Coordinator) Drop(ctx context.Context, slotID string) error {
	if slotID == "*" {
		ns := namespaceToken()
		_, err := do(c, ctx, func(ctx context.Context) (struct{}, error) {
			return struct{}{}, c.cfg.Client.Set(ctx, c.genKey(), ns, 0).Err()
		})
		if err != nil {
			return err
		}
		c.ns.Store(ns)
		return nil
	}
	// The namespace is read fresh, not guessed: deleting in a namespace that
	// is no longer current would leave the current copy, and a leader's
	// lock in it, alive.
	_, err := do(c, ctx, func(ctx context.Context) (struct{}, error) {
		ns, err := c.cfg.Client.Get(ctx, c.genKey()).Result()
		if errors.Is(err, redis.Nil) {
			return struct{}{}, nil // no namespace yet: nothing is shared
		}
		if err != nil {
			return struct{}{}, err
		}
		k := c.keysFor(ns, slotID)
		return struct{}{}, c.cfg.Client.Del(ctx, k.data, k.lock, k.refresh).Err()
	})
	// Local followers of the slot may now take the lock at once.
	c.wake.fire(slotID)
	return err
}

// Close wakes every follower; their loads end with their contexts, which
// the engine cancels at Close. It does not close the client.
func (c *Coordinator) Close() { c.wake.close() }

func (c *Coordinator) notice(slotID string) []byte {
	if c.cfg.Channel == "" || c.cfg.Notice == nil {
		return nil
	}
	return c.cfg.Notice(slotID)
}

// run is one coordinated miss.
func (m *miss) run(ctx context.Context, load core.Loader) core.FillResult {
	c := m.c
	if c.brk.open() {
		return m.local(ctx, load, Degraded, errCooling)
	}
	w := newWatcher(&c.wake, m.slot)
	defer w.stop()
	token := leaseToken()
	m.attempts++
	k, f, err := c.first(ctx, m.slot, token)
	if err != nil {
		return m.redisFailed(ctx, load, err)
	}
	return m.act(ctx, k, token, load, f, SharedHit, w)
}

// act does what a look at the slot's keys calls for: take the shared
// copy (counted as hit), load as the lock holder, refresh a due copy, or
// wait for the instance that holds the lock.
func (m *miss) act(ctx context.Context, k keys, token string, load core.Loader, f found, hit Outcome, w *watcher) core.FillResult {
	switch f.state {
	case stateHit:
		m.set(hit, nil)
		return m.hit(ctx, k, load, f)
	case stateLeader:
		return m.lead(ctx, k, token, load, LeaderLoad, nil)
	case stateDue:
		return m.refresh(ctx, k, token, load, f)
	default:
		return m.follow(ctx, k, token, load, w)
	}
}

// hit decodes a value found in the shared tier. A value this instance
// cannot decode (another version's codec, say) is loaded locally instead,
// and so is one that does not verify, with signing (sign.go).
func (m *miss) hit(ctx context.Context, k keys, load core.Loader, f found) core.FillResult {
	v, ttl, err := m.c.value(m.slot, k.data, f)
	switch {
	case unverified(err):
		return m.local(ctx, load, Unverified, err)
	case err != nil:
		return m.local(ctx, load, Degraded, fmt.Errorf("decode shared value: %w", err))
	}
	return core.FillResult{Value: v, Source: core.SharedCopy, Remaining: ttl}
}

// refresh reloads a shared copy that is due, as the winner of its lease:
// the slot gets the copy at once, so that this instance keeps serving (and
// callers waiting on the miss are answered), while it loads the slot from
// the source and rewrites the copy like a leader. The other instances
// serve the old copy until then.
//
// A copy that does not verify (sign.go) is not served: this instance holds
// the lock all the same, and rewrites the slot from the source.
func (m *miss) refresh(ctx context.Context, k keys, token string, load core.Loader, f found) core.FillResult {
	o, cause := SharedRefresh, error(nil)
	v, ttl, err := m.c.value(m.slot, k.data, f)
	switch {
	case err == nil:
		m.target.Serve(v, ttl)
	case unverified(err):
		o, cause = Unverified, err
	}
	return m.lead(ctx, k, token, load, o, cause)
}

// lead loads as the lock holder and commits; o says why it holds the lock,
// and cause, if not nil, what went wrong before.
// The lock is released on every path that does not commit: loader error,
// panic, Goexit, a value that is not to be shared or does not encode.
func (m *miss) lead(ctx context.Context, k keys, token string, load core.Loader, o Outcome, cause error) core.FillResult {
	c := m.c
	defer c.observe(&ctx, core.OpFillLease, m).end()
	m.set(o, cause)
	held := true
	defer func() {
		if held {
			c.release(ctx, k, m.slot, token, true)
			c.wake.fire(m.slot)
		}
	}()
	v, err := m.call(ctx, load)
	if err != nil {
		m.err = err
		return core.FillResult{Err: err}
	}
	here := core.FillResult{Value: v}
	share := m.target.Share(v)
	ttl := share.TTL.Truncate(time.Millisecond)
	if ttl <= 0 {
		m.err = errors.New("not shared: the slot does not cache it")
		return here
	}
	payload, err := encode(c.cfg.Codec, m.slot, v)
	if err != nil {
		c.stats.uncodable.Add(1)
		m.err, m.loud = fmt.Errorf("not shared, cached here only: encode: %w", err), true
		return here
	}
	// The commit outlives a cancelled load context: the value is good, and
	// sharing it spares the other instances a load.
	var due time.Duration // the copy's refresh point, in remaining life
	if share.RefreshAfter > 0 && share.RefreshAfter < share.TTL {
		due = (share.TTL - share.RefreshAfter).Truncate(time.Millisecond)
	}
	payload = c.stored(k.data, payload, ttl)
	committed, err := c.commit(context.WithoutCancel(ctx), k, m.slot, token, payload, ttl, due)
	if err != nil {
		m.set(Degraded, fmt.Errorf("commit: %w", err))
		return here
	}
	held = false // committed, or no longer ours
	if !committed {
		m.set(StaleCommitRejected, nil)
		return core.FillResult{Value: v, Source: core.CommitRejected}
	}
	c.wake.fire(m.slot)
	return here
}

// follow waits for another instance's fill, then acts on what it found:
// the copy it committed (woken by its notice, or polled), the lock it gave
// up, or nothing by the end of Wait, after which this instance loads
// locally.
func (m *miss) follow(ctx context.Context, k keys, token string, load core.Loader, w *watcher) core.FillResult {
	defer m.c.observe(&ctx, core.OpFillWait, m).end()
	f, woken, err := m.await(ctx, k, token, w)
	switch {
	case errors.Is(err, errWaitOver):
		return m.local(ctx, load, FollowerTimeout, nil)
	case err != nil: // Redis failed, or ctx ended
		return m.redisFailed(ctx, load, err)
	}
	hit := FollowerPolled
	if woken {
		hit = FollowerWoken
	}
	return m.act(ctx, k, token, load, f, hit, w)
}

// errWaitOver ends a follower's wait that found nothing within Wait.
var errWaitOver = errors.New("nothing filled within Wait")

// await checks the slot's keys again when a notice wakes it or its backoff
// ends, while another instance holds the lock, for at most Wait. It
// reports what it found and whether a notice woke it; the waiting gauge
// covers exactly the wait.
func (m *miss) await(ctx context.Context, k keys, token string, w *watcher) (f found, woken bool, err error) {
	c := m.c
	c.stats.waiting.Add(1)
	defer c.stats.waiting.Add(-1)
	deadline := time.Now().Add(c.cfg.Wait)
	bo := newBackoff(c.cfg.PollMin, c.cfg.PollMax)
	timer := time.NewTimer(c.cfg.PollMin)
	defer timer.Stop()
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return found{}, false, errWaitOver
		}
		timer.Reset(min(bo.next(), left))
		woken = false
		select {
		case <-w.ch:
			woken = true
			w.renew() // before the next look, so no notice falls between
		case <-timer.C:
		case <-ctx.Done():
			return found{}, false, ctx.Err()
		}
		m.attempts++
		if f, err = c.acquire(ctx, k, token); err != nil || f.state != stateBusy {
			return f, woken, err
		}
	}
}

// local loads without the shared tier: after Wait, or when Redis failed.
// The value is not committed: without the lock, a write could not be made
// safe against a concurrent invalidation.
func (m *miss) local(ctx context.Context, load core.Loader, o Outcome, cause error) core.FillResult {
	m.set(o, cause)
	v, err := m.call(ctx, load)
	if err != nil && m.err == nil {
		m.err = err
	}
	return core.FillResult{Value: v, Err: err}
}

// errNoReturn is the error a lease or wait ends with when the loader run
// inside it panicked or called runtime.Goexit; the panic itself goes on
// to the slot actor, which reports it to the callers.
var errNoReturn = errors.New("the loader did not return (panic or runtime.Goexit)")

// call runs load for m's slot. A loader that does not return leaves
// errNoReturn as m's error, so that the step it ran in (a fill lease or
// wait, ended by a deferred observed.end) ends as failed, not as a success.
func (m *miss) call(ctx context.Context, load core.Loader) (any, error) {
	returned := false
	defer func() {
		if !returned {
			m.err = errNoReturn
		}
	}()
	v, err := load(ctx, m.slot)
	returned = true
	return v, err
}

// redisFailed degrades to a local load, unless the load's own context
// ended, in which case there is nobody left to load for.
func (m *miss) redisFailed(ctx context.Context, load core.Loader, err error) core.FillResult {
	if ctx.Err() != nil {
		m.set(Cancelled, ctx.Err())
		return core.FillResult{Err: ctx.Err()}
	}
	return m.local(ctx, load, Degraded, err)
}

// watcher is a follower's subscription to its slot's wakeups.
type watcher struct {
	w    *wakeups
	slot string
	ch   <-chan struct{}
	done func()
}

func newWatcher(w *wakeups, slotID string) *watcher {
	x := &watcher{w: w, slot: slotID}
	x.ch, x.done = w.watch(slotID)
	return x
}

func (x *watcher) renew() {
	x.done()
	x.ch, x.done = x.w.watch(x.slot)
}

func (x *watcher) stop() { x.done() }
