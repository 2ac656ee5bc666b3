package bridge

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Sub is one invalidation channel on a bridge's subscription and the engine
// that listens to it. Named caches attach their channels to their engine's
// bridge, so that one Redis connection and one heartbeat serve them all.
type Sub struct {
	b         *Bridge
	channel   string
	h         Handler
	stats     counters
	ready     chan struct{}
	readyOnce sync.Once
	session   atomic.Uint64 // the bridge session that last confirmed the channel
	out       outbox
	prepare   func(ctx context.Context, slotID string) error // SetPrepare; nil: none
	backMu    sync.Mutex
	backCh    chan struct{} // closed at the next confirmation; see back
	ack       string        // the channel where other instances answer confirmed invalidations
	confirms  confirms
	sign      *signer // nil: messages are neither signed nor verified (signmsg.go)
	damp      damper  // remote invalidations, coalesced in a storm (damp.go)
}

// SetPrepare makes f run before every publish of an invalidation on s,
// first or from the outbox; when f fails, the invalidation is queued as if
// the publish had failed. The engine drops the shared fill copy there
// (WithFill), which must be gone before any other instance hears of the
// invalidation and reloads. Call it before the first Publish.
func (s *Sub) SetPrepare(f func(ctx context.Context, slotID string) error) { s.prepare = f }

func newSub(b *Bridge, channel string, h Handler, signing *Signing, damping time.Duration) *Sub {
	s := &Sub{b: b, channel: channel, h: h, ready: make(chan struct{}), ack: ackChannel(channel, b.cfg.Origin), sign: newSigner(signing)}
	s.initDamp(damping)
	return s
}

// Attach adds channel to the bridge's subscription, with h hearing what
// arrives on it. It does not wait for Redis: Ready tells when the channel
// is live. A channel can be attached once. signing, when not nil, signs
// and verifies the channel's messages, as Config.Signing does the primary
// channel's: each channel has its own, whatever the others'. damping
// bounds the damping of the channel's remote invalidations as
// Config.Damping does the primary channel's: the cache on the channel
// checked it against its own staleness bound.
func (b *Bridge) Attach(channel string, h Handler, signing *Signing, damping time.Duration) (*Sub, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if channel == b.hbChannel || b.subs[channel] != nil || b.acks[channel] != nil {
		return nil, fmt.Errorf("slotcache: channel %q is already subscribed", channel)
	}
	s := newSub(b, channel, h, signing, damping)
	b.subs[channel] = s
	b.acks[s.ack] = s
	if ps := b.ps; ps != nil {
		// Added to the live subscription off this goroutine: PubSub's own
		// lock may be held by a dial to a frozen Redis. A failure shows up
		// as a broken session, whose successor subscribes every attached
		// channel; no live session means the next one will.
		b.goLocked(func() { _ = ps.Subscribe(b.ctx, channel, s.ack) })
	}
	return s, nil
}

// Detach removes the channel from the subscription; its handler hears
// nothing more. Invalidations still in its outbox are published all the
// same once Redis answers (the other instances need them), or dropped and
// counted when the bridge closes.
func (s *Sub) Detach() {
	b := s.b
	s.damp.halt()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.subs[s.channel] != s {
		return
	}
	delete(b.subs, s.channel)
	delete(b.acks, s.ack)
	if ps := b.ps; ps != nil {
		b.goLocked(func() { _ = ps.Unsubscribe(b.ctx, s.channel, s.ack) })
	}
}

// sub returns the Sub of channel, or nil if none is attached.
func (b *Bridge) sub(channel string) *Sub {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.subs[channel]
}

// ackSub returns the Sub whose ack channel is channel, or nil.
func (b *Bridge) ackSub(channel string) *Sub {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.acks[channel]
}

// each calls f for every attached Sub.
func (b *Bridge) each(f func(*Sub)) {
	b.mu.Lock()
	subs := make([]*Sub, 0, len(b.subs))
	for _, s := range b.subs {
		subs = append(subs, s)
	}
	b.mu.Unlock()
	for _, s := range subs {
		f(s)
	}
}

// Bridge returns the bridge s is attached to.
func (s *Sub) Bridge() *Bridge { return s.b }

// Ready is closed once Redis confirmed the subscription of this channel:
// from then on, invalidations other instances publish on it arrive here.
func (s *Sub) Ready() <-chan struct{} { return s.ready }

// Publish broadcasts an invalidation of slotID (All for every slot) on this
// channel, waiting at most the publish timeout. An invalidation that Redis
// does not take in time is never dropped: it goes to the channel's outbox,
// published as soon as Redis answers again, and the error wraps ErrQueued.
// While older invalidations wait there, a new one queues behind them, so
// that they go first.
func (s *Sub) Publish(ctx context.Context, slotID string) error {
	b := s.b
	if err := b.ctx.Err(); err != nil {
		return fmt.Errorf("slotcache: publish invalidation of %q to %q: bridge closed: %w", slotID, s.channel, err)
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.PublishTimeout)
	defer cancel()
	if s.out.pending() {
		return s.enqueue(ctx, slotID, nil, nil)
	}
	// The attempt is abandoned on ctx's end (see Bridge.publish), but its
	// outcome is Redis's own answer, however late: the drainer waits for it
	// (see landed), so that a publish Redis took late is not sent twice.
	// It counts as a publish error once that answer says it failed, even if
	// a newer invalidation superseded it in the outbox meanwhile.
	att := make(chan error, 1)
	go func() {
		err := s.prepared(ctx, slotID)
		if err == nil {
			err = s.b.cfg.Client.Publish(ctx, s.channel, s.encodeInvalidation(slotID, "")).Err()
			b.publishChecked(s.channel, err)
		}
		if err != nil {
			s.stats.publishErrors.Add(1)
		}
		att <- err
	}()
	select {
	case err := <-att:
		if err == nil {
			return nil
		}
		return s.enqueue(ctx, slotID, err, nil)
	case <-ctx.Done():
		return s.enqueue(ctx, slotID, b.gaveUp(s.channel, ctx.Err()), att)
	}
}

// publishNow prepares and publishes one invalidation, giving up when ctx
// ends.
func (s *Sub) publishNow(ctx context.Context, slotID string) error {
	if err := s.prepared(ctx, slotID); err != nil {
		return err
	}
	_, err := s.b.publish(ctx, s.channel, s.encodeInvalidation(slotID, ""))
	return err
}

// prepared runs the SetPrepare function, if any, for slotID.
func (s *Sub) prepared(ctx context.Context, slotID string) error {
	if s.prepare == nil {
		return nil
	}
	err := s.prepare(ctx, slotID)
	s.b.checkRefusal("prepare "+s.channel, "prepare PUBLISH "+s.channel, err)
	return err
}
