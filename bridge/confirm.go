package bridge

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
)

// Confirmed invalidations: the writer publishes the seed's message with one
// more field, {"slotId":..,"_origin":..,"confirm":"<request id>"} (the
// seed's Node module ignores fields it does not know, and still applies
// it). Every slotcache instance that applies it answers on the writer's ack
// channel, <channel>:ack:<writer origin>, with {"ack":"<request id>",
// "_origin":"<its origin>"}, after the handler returned: by then its readers
// miss the slot. The writer's own echo counts as its own answer. PUBLISH
// replies with the number of subscribers that received the message on that
// server, which is how many answers the writer waits for.

// ErrUnconfirmed is wrapped by the error of a confirmed publish that not
// every subscriber answered before the context ended.
var ErrUnconfirmed = errors.New("invalidation not confirmed by every subscriber")

// ackMessage is an answer to a confirmed invalidation.
type ackMessage struct {
	Ack    string `json:"ack"`
	Origin string `json:"_origin"`
	TS     int64  `json:"_ts,omitempty"`
	Sig    string `json:"_sig,omitempty"`
}

// ackChannel is where the instances answer origin's confirmed
// invalidations on channel.
func ackChannel(channel, origin string) string { return channel + ":ack:" + origin }

// pendingConfirm counts the answers to one confirmed invalidation.
type pendingConfirm struct {
	origins  map[string]struct{}
	expected int // -1 until PUBLISH has answered
	done     chan struct{}
	closed   bool
}

// confirms tracks a Sub's confirmed invalidations in flight.
type confirms struct {
	mu      sync.Mutex
	pending map[string]*pendingConfirm
}

func (c *confirms) open(id string) *pendingConfirm {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending == nil {
		c.pending = make(map[string]*pendingConfirm)
	}
	p := &pendingConfirm{origins: make(map[string]struct{}), expected: -1, done: make(chan struct{})}
	c.pending[id] = p
	return p
}

func (c *confirms) close(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.pending, id)
}

// answered records origin's answer to id.
func (c *confirms) answered(id, origin string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.pending[id]; p != nil {
		p.origins[origin] = struct{}{}
		p.check()
	}
}

// expect records how many answers id waits for.
func (c *confirms) expect(p *pendingConfirm, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p.expected = n
	p.check()
}

// got returns how many answers p has, and how many it waits for.
func (c *confirms) got(p *pendingConfirm) (got, expected int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(p.origins), p.expected
}

func (p *pendingConfirm) check() {
	if !p.closed && p.expected >= 0 && len(p.origins) >= p.expected {
		p.closed = true
		close(p.done)
	}
}

// PublishConfirmed publishes an invalidation of slotID (All for every
// slot) and waits until every instance subscribed to the channel on the
// server has applied it, or ctx ends. The publish itself is bounded by the
// publish timeout; if it fails, the invalidation goes to the outbox as with
// Publish (the error wraps ErrQueued) and nothing is confirmed. Subscribers
// that do not answer (the seed's Node module, plain Redis clients) are
// counted as missing. On Redis Cluster, PUBLISH counts only the subscribers
// connected to the node that took it, so instances connected to other
// nodes are not waited for.
func (s *Sub) PublishConfirmed(ctx context.Context, slotID string) error {
	b := s.b
	if err := b.ctx.Err(); err != nil {
		return fmt.Errorf("slotcache: publish invalidation of %q to %q: bridge closed: %w", slotID, s.channel, err)
	}
	queue := func(cause error) error {
		ctx, cancel := context.WithTimeout(ctx, b.cfg.PublishTimeout)
		defer cancel()
		return s.enqueue(ctx, slotID, cause, nil)
	}
	if s.out.pending() {
		// Older invalidations wait in the outbox: this one goes behind
		// them, not to overtake them, unconfirmed. No publish failed.
		return queue(nil)
	}
	var raw [16]byte
	_, _ = rand.Read(raw[:])
	id := hex.EncodeToString(raw[:])
	p := s.confirms.open(id)
	defer s.confirms.close(id)

	pctx, cancel := context.WithTimeout(ctx, b.cfg.PublishTimeout)
	err := s.prepared(pctx, slotID)
	var n int64
	if err == nil {
		n, err = b.publish(pctx, s.channel, s.encodeInvalidation(slotID, id))
	}
	cancel()
	if err != nil {
		s.stats.publishErrors.Add(1)
		return queue(err)
	}
	s.confirms.expect(p, int(n))
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		got, expected := s.confirms.got(p)
		return fmt.Errorf("slotcache: invalidation of %q on %q: %w: %d of %d subscribers did not answer: %w",
			slotID, s.channel, ErrUnconfirmed, expected-got, expected, ctx.Err())
	}
}

// answer tells origin that its confirmed invalidation id was applied here,
// off the receiving goroutine, which must stay O(1).
func (s *Sub) answer(id, origin string) {
	b := s.b
	channel := ackChannel(s.channel, origin)
	m := ackMessage{Ack: id, Origin: b.cfg.Origin}
	m.TS, m.Sig = s.stamp(channel, kindAck, m.Ack, m.Origin)
	payload := encodeJSON(m)
	b.async(func() {
		ctx, cancel := context.WithTimeout(b.ctx, b.cfg.PublishTimeout)
		defer cancel()
		if _, err := b.publish(ctx, channel, payload); err != nil {
			b.cfg.Logger.Debug("slotcache: could not confirm an invalidation", "channel", s.channel, "err", err)
		}
	})
}

// applyAck handles one answer on s's ack channel.
func (s *Sub) applyAck(payload string) {
	if len(payload) > s.b.cfg.MaxMessageBytes {
		s.stats.malformed.Add(1)
		return
	}
	var m ackMessage
	if err := json.Unmarshal([]byte(payload), &m); err != nil || m.Ack == "" || m.Origin == "" {
		s.stats.malformed.Add(1)
		return
	}
	if !s.verified(s.ack, kindAck, sigFields{sig: m.Sig, ts: m.TS}, m.Ack, m.Origin) {
		return // a forged answer would fake a confirmation
	}
	s.confirms.answered(m.Ack, m.Origin)
}
