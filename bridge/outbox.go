package bridge

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrQueued is wrapped by the error of a Publish that Redis did not take in
// time: the invalidation waits in the channel's outbox and is published as
// soon as Redis answers again, before anything published after it.
var ErrQueued = errors.New("invalidation queued for publishing when Redis is back")

// DefaultOutboxMax is the outbox bound used when Config.OutboxMax is zero.
const DefaultOutboxMax = 10_000

// outbox holds one channel's invalidations whose publish failed, coalesced
// per slot, in the order they were first queued. An invalidation of every
// slot supersedes everything queued before it: it is published after them,
// so it covers them. Past its bound, the outbox collapses into one such
// invalidation of every slot: more than the writer asked for, never less.
type outbox struct {
	mu      sync.Mutex
	all     bool                // All is queued
	order   []string            // queued slot IDs, oldest first; empty when all
	set     map[string]struct{} // the members of order
	queued  uint64              // sequence number of the latest enqueue
	done    uint64              // everything queued up to here is published
	changed chan struct{}       // closed and replaced when done moves
	running bool                // a drainer goroutine runs
	taken   int                 // the size of the batch being published
	// attempts holds, for a queued slot (or All) whose latest invalidation
	// was queued because its publish did not answer in time, that
	// publish's outcome: the drainer waits for it before publishing again,
	// so that a publish Redis took late is not delivered twice.
	attempts map[string]<-chan error
}

// pending reports whether anything waits in the outbox or is being
// published from it.
func (o *outbox) pending() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.all || len(o.order) > 0 || o.taken > 0
}

// add queues slotID, whose publish, att, did not answer in time (nil: none
// was tried), and returns its sequence number, whether a drainer must be
// started, and how many queued invalidations an overflow folded into All.
func (o *outbox) add(slotID string, limit int, att <-chan error) (seq uint64, start bool, folded int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	key := slotID
	switch {
	case o.all:
		key = All
	case slotID == All || len(o.order) >= limit:
		if slotID != All {
			folded = len(o.order) + 1
			att = nil // stands for more than its own slot now
		}
		key = All
		o.all, o.order, o.set = true, nil, nil
		clear(o.attempts)
	default:
		if _, ok := o.set[slotID]; !ok {
			if o.set == nil {
				o.set = make(map[string]struct{})
			}
			o.set[slotID] = struct{}{}
			o.order = append(o.order, slotID)
		}
	}
	if att != nil && key == slotID {
		if o.attempts == nil {
			o.attempts = make(map[string]<-chan error)
		}
		o.attempts[key] = att
	} else {
		delete(o.attempts, key) // a newer invalidation nobody tried yet
	}
	o.queued++
	if o.changed == nil {
		o.changed = make(chan struct{})
	}
	start = !o.running
	o.running = true
	return o.queued, start, folded
}

// take empties the outbox and returns what it held, with the sequence
// number it reaches and the pending attempts of the batch, or ok false (and
// the drainer stops) if it was empty.
func (o *outbox) take() (batch []string, upTo uint64, attempts map[string]<-chan error, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case o.all:
		batch = []string{All}
	case len(o.order) > 0:
		batch = o.order
	default:
		o.running, o.taken = false, 0
		return nil, 0, nil, false
	}
	o.all, o.order, o.set = false, nil, nil
	o.taken = len(batch)
	attempts, o.attempts = o.attempts, nil
	return batch, o.queued, attempts, true
}

// putBack returns the unpublished rest of a batch to the front of the
// outbox, ahead of what was queued since.
func (o *outbox) putBack(rest []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.taken = 0
	if o.all {
		return // queued since, so published after rest: covers it
	}
	if len(rest) > 0 && rest[0] == All {
		o.all, o.order, o.set = true, nil, nil
		return
	}
	newer := o.order
	o.order, o.set = nil, make(map[string]struct{}, len(rest)+len(newer))
	for _, id := range append(rest, newer...) {
		if _, ok := o.set[id]; !ok {
			o.set[id] = struct{}{}
			o.order = append(o.order, id)
		}
	}
}

// published records that everything queued up to upTo is published.
func (o *outbox) published(upTo uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.taken = 0
	if upTo > o.done {
		o.done = upTo
		if o.changed != nil {
			close(o.changed)
			o.changed = make(chan struct{})
		}
	}
}

// delivered reports whether everything queued up to seq is published, and
// the channel that tells when that may have changed.
func (o *outbox) delivered(seq uint64) (bool, <-chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.done >= seq, o.changed
}

// size is the number of queued invalidations, including the batch being
// published (All counts as one).
func (o *outbox) size() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.all {
		return 1 + o.taken
	}
	return len(o.order) + o.taken
}

// enqueue puts slotID in s's outbox, starting its drainer if none runs,
// and waits for the drainer to publish it until ctx ends.
func (s *Sub) enqueue(ctx context.Context, slotID string, cause error, att <-chan error) error {
	b := s.b
	seq, start, folded := s.out.add(slotID, b.cfg.OutboxMax, att)
	s.stats.queued.Add(1)
	if folded > 0 {
		b.cfg.Logger.Warn("slotcache: invalidation outbox full; queued one invalidation of every slot instead",
			"channel", s.channel, "folded", folded, "max", b.cfg.OutboxMax)
	}
	if start && !b.async(s.drain) {
		s.dropQueued() // closed meanwhile: nobody will publish it
	}
	for {
		ok, changed := s.out.delivered(seq)
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			if cause == nil {
				cause = b.gaveUp(s.channel, ctx.Err())
			}
			return fmt.Errorf("slotcache: publish invalidation of %q to %q: %w: %w", slotID, s.channel, ErrQueued, cause)
		}
	}
}

// drain publishes the outbox, oldest first, until it is empty, retrying
// with backoff, and sooner when a subscription is confirmed (Redis is
// back). What is still queued when the bridge closes is dropped, counted
// and logged.
func (s *Sub) drain() {
	b := s.b
	backoff := b.cfg.BackoffMin
	for {
		batch, upTo, attempts, ok := s.out.take()
		if !ok {
			return
		}
		landed := s.landed(attempts)
		sent := 0
		for _, id := range batch {
			if landed[id] {
				sent++
				continue
			}
			ctx, cancel := context.WithTimeout(b.ctx, b.cfg.PublishTimeout)
			err := s.publishNow(ctx, id)
			cancel()
			if err != nil {
				break
			}
			s.stats.retried.Add(1)
			sent++
		}
		if sent == len(batch) {
			s.out.published(upTo)
			backoff = b.cfg.BackoffMin
			continue
		}
		s.out.putBack(batch[sent:])
		if b.ctx.Err() != nil {
			s.dropQueued()
			return
		}
		t := time.NewTimer(jitter(backoff))
		select {
		case <-t.C:
		case <-s.back():
			t.Stop()
		case <-b.ctx.Done():
			t.Stop()
			s.dropQueued()
			return
		}
		backoff = min(2*backoff, b.cfg.BackoffMax)
	}
}

// landed waits, within one publish timeout, for the publishes that did not
// answer in time, and returns the slots whose publish Redis took after all.
// The others failed (or are still unanswered) and are published again.
func (s *Sub) landed(attempts map[string]<-chan error) map[string]bool {
	if len(attempts) == 0 {
		return nil
	}
	// One bound for them all: a publish on a dead link may never answer.
	ctx, cancel := context.WithTimeout(s.b.ctx, s.b.cfg.PublishTimeout)
	defer cancel()
	landed := make(map[string]bool, len(attempts))
	for id, att := range attempts {
		select {
		case err := <-att:
			landed[id] = err == nil
		case <-ctx.Done():
		}
	}
	return landed
}

// dropQueued empties the outbox at Close, counting and logging what is
// lost: the other instances keep those slots until their staleness bound
// or TTL.
func (s *Sub) dropQueued() {
	n := s.out.size()
	if n == 0 {
		return
	}
	for {
		if _, _, _, ok := s.out.take(); !ok {
			break
		}
	}
	s.stats.dropped.Add(uint64(n))
	s.b.cfg.Logger.Warn("slotcache: closed with invalidations still queued for Redis; other instances keep those slots until their staleness bound",
		"channel", s.channel, "dropped", n)
}

// back returns a channel closed at the next confirmed subscription of s.
func (s *Sub) back() <-chan struct{} {
	s.backMu.Lock()
	defer s.backMu.Unlock()
	if s.backCh == nil {
		s.backCh = make(chan struct{})
	}
	return s.backCh
}

// signalBack wakes the drainer: Redis answers again.
func (s *Sub) signalBack() {
	s.backMu.Lock()
	defer s.backMu.Unlock()
	if s.backCh != nil {
		close(s.backCh)
		s.backCh = nil
	}
}
