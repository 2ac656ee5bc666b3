package fill

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// bounded runs op with a context bounded by the op timeout and returns when
// that context ends, even if op does not. go-redis bounds a socket read by
// the client's ReadTimeout, not by the context (unless the client enables
// ContextTimeoutEnabled), so a frozen link would otherwise hold the miss
// for ReadTimeout, or forever with ReadTimeout -1. An abandoned op ends in
// the background when the client gives up or is closed.
func bounded[T any](ctx context.Context, d time.Duration, op func(context.Context) (T, error)) (T, error) {
	// Cancelled when the caller returns, not when op does: op's own cancel
	// would make both cases below ready at once, and select might report
	// a finished op as timed out.
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := op(ctx)
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// do runs op bounded by the op timeout and feeds the breaker, and
// Config.Refused: an error counts unless the caller's own context ended (a
// cancelled load says nothing about Redis).
func do[T any](c *Coordinator, ctx context.Context, op func(context.Context) (T, error)) (T, error) {
	v, err := bounded(ctx, c.cfg.OpTimeout, op)
	switch {
	case err == nil:
		c.brk.success()
		if c.refused.Load() && c.refused.CompareAndSwap(true, false) {
			c.cfg.Refused(nil)
		}
	case ctx.Err() == nil:
		c.brk.failure()
		if c.cfg.Refused != nil && c.cfg.Refused(err) {
			c.refused.Store(true)
		}
	}
	return v, err
}

// state is what the acquire script found.
type state int

const (
	stateHit    state = 1 // the data key holds a value
	stateLeader state = 2 // the lock is ours
	stateBusy   state = 3 // another instance holds the lock
	stateDue    state = 4 // the data key holds a value due for reload, and the lock is ours
)

// found is one answer of the acquire script.
type found struct {
	state state
	data  string        // stateHit, stateDue: the stored envelope
	ttl   time.Duration // stateHit, stateDue: the data key's remaining lifetime
}

// parseFound reads the acquire script's reply.
func parseFound(reply any, err error) (found, error) {
	if err != nil {
		return found{}, err
	}
	arr, ok := reply.([]any)
	if !ok || len(arr) == 0 {
		return found{}, fmt.Errorf("fill: unexpected acquire reply %#v", reply)
	}
	st, ok := arr[0].(int64)
	switch {
	case !ok:
	case (st == int64(stateHit) || st == int64(stateDue)) && len(arr) == 3:
		data, ok1 := arr[1].(string)
		pttl, ok2 := arr[2].(int64)
		if ok1 && ok2 {
			// PTTL -1 (no expiry: not written by a coordinator) leaves
			// the TTL to the engine (0); a key in its last millisecond
			// reports 0 and gets 1 ms.
			var ttl time.Duration
			if pttl >= 0 {
				ttl = time.Duration(max(pttl, 1)) * time.Millisecond
			}
			return found{state: state(st), data: data, ttl: ttl}, nil
		}
	case st == int64(stateLeader) || st == int64(stateBusy):
		return found{state: state(st)}, nil
	}
	return found{}, fmt.Errorf("fill: unexpected acquire reply %#v", reply)
}

// first is a miss's first look: the namespace and, in the same round trip,
// the acquire script run in the namespace this instance saw last. If the
// namespace moved on meanwhile (another instance invalidated everything),
// the answer is thrown away (and a lock taken there released) and the
// script runs again in the current one.
func (c *Coordinator) first(ctx context.Context, slotID, token string) (keys, found, error) {
	guess := c.ns.Load().(string)
	ns := ""
	if guess != "" {
		type reply struct {
			gen string
			f   found
		}
		k := c.keysFor(guess, slotID)
		r, err := do(c, ctx, func(ctx context.Context) (reply, error) {
			pipe := c.cfg.Client.Pipeline()
			gen := pipe.Get(ctx, c.genKey())
			acq := pipe.Eval(ctx, acquireSrc, []string{k.data, k.lock, k.refresh}, token, c.leaseMs)
			_, _ = pipe.Exec(ctx) // errors are per command
			if err := gen.Err(); err != nil && !errors.Is(err, redis.Nil) {
				return reply{}, err
			}
			f, err := parseFound(acq.Result())
			return reply{gen: gen.Val(), f: f}, err
		})
		if err != nil {
			return keys{}, found{}, err
		}
		if r.gen == guess {
			return k, r.f, nil
		}
		if r.f.state == stateLeader || r.f.state == stateDue {
			c.release(ctx, k, slotID, token, false)
		}
		ns = r.gen // "" if the gen key is gone: namespace creates one
	}
	if ns == "" {
		var err error
		if ns, err = c.namespace(ctx); err != nil {
			return keys{}, found{}, err
		}
	}
	c.ns.Store(ns)
	k := c.keysFor(ns, slotID)
	f, err := c.acquire(ctx, k, token)
	return k, f, err
}

// namespace returns the current namespace token, creating it if it is
// missing.
func (c *Coordinator) namespace(ctx context.Context) (string, error) {
	return do(c, ctx, func(ctx context.Context) (string, error) {
		return namespaceScript.Run(ctx, c.cfg.Client, []string{c.genKey()}, namespaceToken()).Text()
	})
}

// acquire runs the acquire script: a follower's poll, or the first look
// after a namespace change.
func (c *Coordinator) acquire(ctx context.Context, k keys, token string) (found, error) {
	return do(c, ctx, func(ctx context.Context) (found, error) {
		return parseFound(acquireScript.Run(ctx, c.cfg.Client, []string{k.data, k.lock, k.refresh}, token, c.leaseMs).Result())
	})
}

// commit writes payload for ttl if the lock still holds token, due for
// reload once its remaining life is down to due (0: never), and reports
// whether it did.
func (c *Coordinator) commit(ctx context.Context, k keys, slotID, token string, payload []byte, ttl, due time.Duration) (bool, error) {
	return do(c, ctx, func(ctx context.Context) (bool, error) {
		n, err := commitScript.Run(ctx, c.cfg.Client, []string{k.data, k.lock, k.refresh},
			token, payload, ttl.Milliseconds(), c.cfg.Channel, c.notice(slotID), due.Milliseconds()).Int()
		return n == 1, err
	})
}

// release deletes the lock if it still holds token, on a context that
// outlives a cancelled load (a leader cancelled at Close or at the load
// timeout must still let go), and logs a failure: the lease will expire
// anyway. notify publishes the notice (not for a lock taken in a stale
// namespace, which nobody waits on).
func (c *Coordinator) release(ctx context.Context, k keys, slotID, token string, notify bool) {
	if c.brk.open() {
		return // Redis just failed; the lease will expire
	}
	ctx = context.WithoutCancel(ctx)
	channel, notice := "", []byte(nil)
	if notify {
		channel, notice = c.cfg.Channel, c.notice(slotID)
	}
	_, err := do(c, ctx, func(ctx context.Context) (int, error) {
		return releaseScript.Run(ctx, c.cfg.Client, []string{k.lock}, token, channel, notice).Int()
	})
	if err != nil {
		c.cfg.Logger.Warn("slotcache: fill: releasing a lease lock failed; it expires with its lease",
			"lock", k.lock, "err", err)
	}
}
