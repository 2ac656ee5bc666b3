package slotcache

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/slotcache/slotcache/internal/core"
	"github.com/slotcache/slotcache/messages"
)

// GetMany returns the values of slotIDs: hits from the cache, misses from
// the loader. It is Get for many slots at once, with the same guarantees:
// every slot still loads through its own actor, so a slot is never loaded
// twice at once, whether by Get or by GetMany, and an invalidation still
// overtakes a load in flight.
//
// With WithBatch, the misses whose slot starts a load go to the batch
// loader together, in batches of at most its maxSize; misses on slots
// already loading (for a Get, or for another GetMany) join that load.
// Without it, each miss calls the cache's loader, all of them at once.
//
// A slot whose value is nil (an ID the batch loader left out of its map:
// see BatchLoader) is left out of the result. If some slots fail, GetMany
// returns the others and an error joining one error per failed slot. A
// caller whose ctx ends gets ctx.Err() at once; the loads go on for their
// other waiters, as with Get.
//
// With WithFill, a batch waits for its slots that follow another
// instance's fill, up to FillPolicy.Wait, before it calls the loader.
func (c *Cache[V]) GetMany(ctx context.Context, slotIDs []string) (map[string]V, error) {
	out := make(map[string]V, len(slotIDs))
	var misses []string
	var seen map[string]struct{}
	for _, id := range slotIDs {
		if v, ok := c.e.hit(id); ok {
			if t, err := typedValue[V](c.e, id, v); err == nil {
				if v != nil {
					out[id] = t
				}
				continue
			}
		}
		if seen == nil {
			seen = make(map[string]struct{})
		}
		if _, dup := seen[id]; !dup {
			seen[id] = struct{}{}
			misses = append(misses, id)
		}
	}
	if len(misses) == 0 {
		return out, nil
	}
	results, err := c.loadMisses(ctx, misses)
	if err != nil {
		return nil, err
	}
	var errs []error
	for i, r := range results {
		id := misses[i]
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("slot %q: %w", id, r.Err))
			continue
		}
		if r.Value == nil {
			continue
		}
		t, err := typedValue[V](c.e, id, r.Value)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[id] = t
	}
	return out, errors.Join(errs...)
}

// loadMisses sends the misses to their slots' actors and waits for every
// answer, the caller's ctx, or Close.
func (c *Cache[V]) loadMisses(ctx context.Context, ids []string) ([]messages.Result, error) {
	if c.e.closed.Load() {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if c.batch == nil {
		return c.loadEach(ctx, ids)
	}
	b := c.startBatch(ctx, ids)
	select {
	case <-b.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.e.env.Ctx.Done():
		return nil, ErrClosed
	}
	if b.closed {
		return nil, ErrClosed
	}
	return b.results, nil
}

// loadEach is loadMisses without a batch loader: the misses of Get, sent
// at once and awaited in turn, with nothing to coordinate.
func (c *Cache[V]) loadEach(ctx context.Context, ids []string) ([]messages.Result, error) {
	env := c.e.env
	replies := make([]chan messages.Result, len(ids))
	for i, id := range ids {
		env.Stats.Misses.Add(1)
		replies[i] = make(chan messages.Result, 1)
		c.e.send(id, &messages.Get{Ctx: ctx, Load: c.load, Reply: replies[i]})
	}
	results := make([]messages.Result, len(ids))
	for i, reply := range replies {
		select {
		case results[i] = <-reply:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-env.Ctx.Done():
			return nil, ErrClosed
		}
	}
	return results, nil
}

// batch is one GetMany's misses on their way through their slots' actors.
// Its loop, in a goroutine of its own so that it outlives a caller that
// gives up, collects three kinds of news per slot: the actor handled the
// request and did or did not start a load (handled); the slot's loader was
// called and waits for the batch (a registration); the slot answered
// (events). It has the batch loaded once every slot that started a load
// has registered or answered, or when maxBatch slots wait.
//
// The batch loader runs in the loader of one of the batch's slots, its
// leader: it is then a load like any other, under that load's context
// (the caller's values, the load timeout, cancelled at Close), counted by
// Shutdown, and its panic is that slot's loader panic, counted, logged
// and restarting the slot, while the other slots' waiters get the same
// *PanicError.
type batch[V any] struct {
	c       *Cache[V]
	ids     []string
	handled chan handled // from actors: never blocks them
	events  chan event   // from loaders and reply forwarders
	done    chan struct{}

	// Written by the loop, read after done.
	results []messages.Result
	closed  bool
}

type handled struct {
	i       int
	started bool
}

// event is a registration (reg set) or an answer.
type event struct {
	i   int
	reg chan turn // the registered loader waits on it
	res messages.Result
}

// turn is what a registered loader receives: its slot's result, or, for
// the batch's leader, the registrations to load (its own first).
type turn struct {
	res  messages.Result
	lead []event
}

// slotState is what the loop knows of one slot.
type slotState struct {
	handled, started, registered, answered bool
}

// waiting reports whether the batch must wait for this slot's
// registration: its request started a load whose loader has not yet
// called in, and it has not been answered otherwise (a shared copy).
func (s *slotState) waiting() bool {
	return s.started && !s.registered && !s.answered
}

func (c *Cache[V]) startBatch(ctx context.Context, ids []string) *batch[V] {
	env := c.e.env
	b := &batch[V]{
		c:       c,
		ids:     ids,
		handled: make(chan handled, 2*len(ids)), // a restarted slot may report twice
		events:  make(chan event),
		done:    make(chan struct{}),
		results: make([]messages.Result, len(ids)),
	}
	go b.run()
	for i, id := range ids {
		env.Stats.Misses.Add(1)
		reply := make(chan messages.Result, 1)
		get := &messages.Get{Ctx: ctx, Load: b.loader(i), Reply: reply}
		get.Started = func(started bool) {
			select {
			case b.handled <- handled{i: i, started: started}:
			default:
			}
		}
		go b.forward(i, reply)
		c.e.send(id, get)
	}
	return b
}

// loader is the loader of slot i while the batch runs: it registers with
// the batch and returns what the batch loader says, calling it if it
// leads. Once the batch is over it loads alone: the slot keeps its last
// loader for background reloads (refresh-ahead, reload on invalidation).
//
// Once registered it waits for its turn whatever its context says, so
// that a leader cannot miss its batch: the batch loader is bounded by the
// leader's context, and every loader's ends at Close.
func (b *batch[V]) loader(i int) Loader {
	c, events, done := b.c, b.events, b.done
	closing := c.e.env.Ctx.Done()
	return func(ctx context.Context, id string) (any, error) {
		reg := make(chan turn, 1)
		select {
		case events <- event{i: i, reg: reg}:
		case <-done:
			return c.load(ctx, id)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		select {
		case t := <-reg:
			if t.lead != nil {
				return b.lead(ctx, t.lead)
			}
			return t.res.Value, t.res.Err
		case <-closing:
			return nil, ErrClosed
		}
	}
}

// forward passes slot i's answer to the loop.
func (b *batch[V]) forward(i int, reply <-chan messages.Result) {
	closing := b.c.e.env.Ctx.Done()
	select {
	case r := <-reply:
		select {
		case b.events <- event{i: i, res: r}:
		case <-closing:
		}
	case <-closing:
	}
}

func (b *batch[V]) run() {
	defer close(b.done)
	n := len(b.ids)
	st := make([]slotState, n)
	nHandled, nAnswered := 0, 0
	var pending []event
	closing := b.c.e.env.Ctx.Done()
	for nAnswered < n {
		select {
		case h := <-b.handled:
			s := &st[h.i]
			if !s.handled {
				s.handled, s.started = true, h.started
				nHandled++
			}
		case ev := <-b.events:
			s := &st[ev.i]
			if ev.reg != nil {
				s.registered = true
				pending = append(pending, ev)
			} else if !s.answered {
				s.answered = true
				nAnswered++
				b.results[ev.i] = ev.res
				if !s.handled { // answered without the actor (the router failed)
					s.handled = true
					nHandled++
				}
			}
		case <-closing:
			b.closed = true
			return
		}
		for limit := b.c.maxBatch; len(pending) > 0 && len(pending) >= limit; pending = pending[limit:] {
			dispatch(pending[:limit:limit])
		}
		if len(pending) > 0 && nHandled == n && !anyWaiting(st) {
			dispatch(pending)
			pending = nil
		}
	}
	if len(pending) > 0 { // registered by a background reload at the very end
		dispatch(pending)
	}
}

func anyWaiting(st []slotState) bool {
	for i := range st {
		if st[i].waiting() {
			return true
		}
	}
	return false
}

// dispatch hands the registrations regs to their first, which leads.
func dispatch(regs []event) {
	regs[0].reg <- turn{lead: regs} // room for one
}

// lead calls the batch loader for the registrations regs (the leader's
// own first), answers the others and returns the leader's value. A panic
// answers the others with a *PanicError, with the batch loader's stack,
// and goes on up to the leader's load, which reports it like any loader's.
func (b *batch[V]) lead(ctx context.Context, regs []event) (any, error) {
	ids := make([]string, len(regs))
	for j, r := range regs {
		ids[j] = b.ids[r.i]
	}
	returned := false
	defer func() {
		if returned {
			return
		}
		var err error = errors.New("slotcache: batch loader exited without returning")
		if r := recover(); r != nil {
			err = &core.PanicError{Slot: ids[0], Value: fmt.Sprintf("batch loader of %d slots: %v", len(ids), r), Stack: debug.Stack()}
			defer panic(r)
		}
		for _, r := range regs[1:] {
			r.reg <- turn{res: messages.Result{Err: err}}
		}
	}()
	vals, err := b.c.batch(ctx, ids)
	returned = true
	for j, r := range regs[1:] {
		res := messages.Result{Err: err}
		if err == nil {
			if v, ok := vals[ids[j+1]]; ok {
				res.Value = v
			}
		}
		r.reg <- turn{res: res} // room for one
	}
	if err != nil {
		return nil, err
	}
	if v, ok := vals[ids[0]]; ok {
		return v, nil
	}
	return nil, nil
}
