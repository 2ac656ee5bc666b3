package bridge

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// session runs one subscription from Subscribe to its first error, and
// reports whether Redis confirmed it. A fresh session per failure keeps the
// flow explicit: every confirmation, first or not, is a resync point.
func (b *Bridge) session() (confirmed bool) {
	b.mu.Lock()
	channels := []string{b.hbChannel}
	for ch := range b.subs {
		channels = append(channels, ch)
	}
	ps := b.cfg.Client.Subscribe(b.ctx, channels...)
	b.ps = ps
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.ps = nil
		b.mu.Unlock()
		_ = ps.Close()
	}()
	b.lastEcho.Store(b.now())

	var live atomic.Bool // confirmed, as the watcher sees it
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		b.watch(ps, stop, &live)
	}()
	defer func() {
		close(stop)
		<-watched
	}()

	for {
		msg, err := ps.Receive(b.ctx)
		if err != nil {
			if b.ctx.Err() == nil {
				b.cfg.Logger.Debug("slotcache: subscription lost", "channel", b.cfg.Channel, "err", err)
			}
			return confirmed
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind != "subscribe" {
				continue
			}
			if s := b.sub(m.Channel); s != nil {
				confirmed = true
				live.Store(true)
				s.subscribed()
			}
		case *redis.Message:
			if m.Channel == b.hbChannel {
				b.lastEcho.Store(b.now())
				continue
			}
			if s := b.sub(m.Channel); s != nil {
				s.apply(m.Payload)
			}
		}
	}
}

// subscribed marks a confirmed subscription of s's channel: whatever was
// cached before it may have missed invalidations, so its engine resyncs. It
// is counted after the resync, so that whoever sees the count sees the
// flush.
func (s *Sub) subscribed() {
	b := s.b
	b.lastEcho.Store(b.now())
	s.h.Resync()
	n := s.stats.subscriptions.Add(1)
	s.readyOnce.Do(func() { close(s.ready) })
	b.cfg.Logger.Debug("slotcache: subscribed", "channel", s.channel, "subscriptions", n)
}

// apply handles one message from s's channel in O(1).
func (s *Sub) apply(payload string) {
	b := s.b
	n, err := DecodeNotice(payload, b.cfg.MaxMessageBytes)
	switch slotID := n.SlotID; {
	case err != nil:
		s.stats.malformed.Add(1)
		b.cfg.Logger.Debug("slotcache: ignored message", "channel", s.channel, "err", err)
	case n.Origin == b.cfg.Origin:
		s.stats.echoes.Add(1)
	case slotID == "":
		s.stats.filled.Add(1)
		s.h.Filled(n.Filled)
	case slotID == All:
		s.stats.applied.Add(1)
		s.h.InvalidateAll()
	default:
		s.stats.applied.Add(1)
		s.h.Invalidate(slotID)
	}
}

// watch publishes the heartbeat and ends the session when its echo stops
// coming back (a dead or half-open connection) or the bridge closes:
// closing the PubSub is what unblocks Receive. Only a confirmed (live)
// subscription counts as a miss and resyncs: an attempt that never got
// confirmed had nothing to lose, and its confirmation would resync anyway.
func (b *Bridge) watch(ps *redis.PubSub, stop <-chan struct{}, live *atomic.Bool) {
	var tick <-chan time.Time
	if hb := b.cfg.Heartbeat; hb > 0 {
		t := time.NewTicker(hb)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-stop:
			return
		case <-b.ctx.Done():
			_ = ps.Close()
			return
		case <-tick:
			hb := b.cfg.Heartbeat
			if silent := time.Duration(b.now() - b.lastEcho.Load()); silent > 3*hb {
				if live.Load() {
					b.cfg.Logger.Warn("slotcache: no heartbeat echo, resubscribing", "channel", b.cfg.Channel, "silent", silent)
					b.each(func(s *Sub) {
						s.h.Resync()
						s.stats.heartbeatMisses.Add(1) // after the resync, as in subscribed
					})
				}
				_ = ps.Close()
				return
			}
			b.heartbeat(hb)
		}
	}
}

// heartbeat publishes one heartbeat without blocking the watcher, which a
// publish stuck on a dead link would otherwise keep from checking the
// silence and from seeing Close (see publish). At most one is in flight.
func (b *Bridge) heartbeat(hb time.Duration) {
	if !b.hbPending.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer b.hbPending.Store(false)
		ctx, cancel := context.WithTimeout(b.ctx, hb)
		defer cancel()
		_ = b.cfg.Client.Publish(ctx, b.hbChannel, b.cfg.Origin).Err()
	}()
}

// jitter spreads reconnection attempts of many instances over [d/2, d).
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}
