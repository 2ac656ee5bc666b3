package bridge

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// session runs one subscription from Subscribe to its first error, and
// reports whether Redis confirmed it. A fresh session per failure keeps the
// flow explicit: every confirmation, first or not, is a resync point.
//
// Nothing here holds b.mu during Redis I/O: go-redis dials and sends HELLO
// inside Subscribe, bounded by the client's DialTimeout and ReadTimeout
// rather than by b.ctx, so a frozen Redis can hold this goroutine for as
// long as the client allows (forever with ReadTimeout -1). Attach, Detach
// and Close must not wait for that; Close waits for this goroutine only
// within Config.CloseTimeout.
func (b *Bridge) session() (confirmed bool) {
	n := b.sessions.Add(1)
	channels := b.channels()
	ps := b.cfg.Client.Subscribe(b.ctx, channels...)
	if !b.adopt(ps, channels) {
		_ = ps.Close()
		return false
	}
	defer func() {
		b.mu.Lock()
		b.ps = nil
		b.mu.Unlock()
		_ = ps.Close()
	}()
	b.lastEcho.Store(b.now())

	var live atomic.Bool   // confirmed, as the watcher sees it
	var killed atomic.Bool // ended by the watcher, which logged why
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		b.watch(ps, stop, &live, &killed)
	}()
	defer func() {
		close(stop)
		<-watched
	}()

	for {
		msg, err := ps.Receive(b.ctx)
		if err != nil {
			if b.ctx.Err() == nil && !killed.Load() && b.switching.Load() != ps {
				b.lost(confirmed, err)
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
				s.subscribed(n)
			}
		case *redis.Message:
			if m.Channel == b.hbChannel {
				b.echo(n, m.Payload)
				continue
			}
			if s := b.sub(m.Channel); s != nil {
				s.apply(m.Payload)
			} else if s := b.ackSub(m.Channel); s != nil {
				s.applyAck(m.Payload)
			}
		}
	}
}

// channels returns the heartbeat channel and every attached channel.
func (b *Bridge) channels() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	channels := []string{b.hbChannel}
	for ch := range b.subs {
		channels = append(channels, ch, ackChannel(ch, b.cfg.Origin))
	}
	return channels
}

// adopt makes ps the live PubSub, unless the bridge closed meanwhile, and
// subscribes it to the channels attached since channels was taken (Attach
// found no live PubSub to add them to).
func (b *Bridge) adopt(ps *redis.PubSub, channels []string) bool {
	b.mu.Lock()
	if b.ctx.Err() != nil {
		b.mu.Unlock()
		return false
	}
	b.ps = ps
	var missing []string
	for ch := range b.subs {
		if !contains(channels, ch) {
			missing = append(missing, ch, ackChannel(ch, b.cfg.Origin))
		}
	}
	b.mu.Unlock()
	if len(missing) > 0 {
		_ = ps.Subscribe(b.ctx, missing...) // a failure breaks the session, whose successor retries
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// lost records why a session ended, for the log line of the next
// confirmation. Losing a confirmed subscription is worth a warning: until
// the next one, invalidations from other instances are lost and the cache
// serves at most the staleness bound. Failed attempts while Redis stays
// unreachable warn once, then stay at Debug.
func (b *Bridge) lost(confirmed bool, err error) {
	b.lossReason.Store(&lossReason{err: err, at: time.Now()})
	switch {
	case confirmed:
		b.cfg.Logger.Warn("slotcache: Redis subscription lost; invalidations from other instances are missed until it is back",
			"channel", b.cfg.Channel, "err", err)
		b.failing.Store(false)
	case b.failing.CompareAndSwap(false, true):
		b.cfg.Logger.Warn("slotcache: cannot subscribe to Redis; retrying in the background",
			"channel", b.cfg.Channel, "err", err)
	default:
		b.cfg.Logger.Debug("slotcache: subscribe attempt failed", "channel", b.cfg.Channel, "err", err)
	}
}

// lossReason is why the last session ended and when.
type lossReason struct {
	err error
	at  time.Time
}

// subscribed marks a confirmed subscription of s's channel in session n:
// whatever was cached before it may have missed invalidations, so its
// engine resyncs. It is counted after the resync, so that whoever sees the
// count sees the flush.
func (s *Sub) subscribed(n uint64) {
	b := s.b
	b.lastEcho.Store(b.now())
	s.h.Resync()
	s.session.Store(n)
	count := s.stats.subscriptions.Add(1)
	s.readyOnce.Do(func() { close(s.ready) })
	s.signalBack()
	b.failing.Store(false)
	if count == 1 {
		b.cfg.Logger.Debug("slotcache: subscribed", "channel", s.channel)
		return
	}
	attrs := []any{"channel", s.channel, "subscriptions", count}
	if r := b.lossReason.Load(); r != nil {
		attrs = append(attrs, "reason", r.err, "down", time.Since(r.at).Round(time.Millisecond))
	}
	b.cfg.Logger.Info("slotcache: resubscribed to Redis; flushed the local cache, since invalidations may have been lost", attrs...)
}

// echo handles the heartbeat of session n coming back. Redis delivers one
// connection's messages in the order it processed their PUBLISHes, so when
// a heartbeat sent at time t comes back, every invalidation published
// before t on this server has been delivered, and applied, since the
// handler runs on this goroutine: t is a watermark, which the engine uses to
// bound staleness. Only channels confirmed in this session learn it; one
// still waiting for its confirmation has not heard everything.
func (b *Bridge) echo(n uint64, payload string) {
	b.lastEcho.Store(b.now())
	i := strings.LastIndexByte(payload, '@')
	sent, err := strconv.ParseInt(payload[i+1:], 10, 64)
	if i < 0 || err != nil {
		return
	}
	at := b.start.Add(time.Duration(sent))
	b.each(func(s *Sub) {
		if s.session.Load() == n {
			s.h.Watermark(at)
		}
	})
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
		if n.Confirm != "" {
			s.confirms.answered(n.Confirm, n.Origin) // the writer's own answer
		}
	case slotID == "":
		s.stats.filled.Add(1)
		s.h.Filled(n.Filled)
	case slotID == All:
		s.stats.applied.Add(1)
		s.h.InvalidateAll()
		s.confirm(n)
	default:
		s.stats.applied.Add(1)
		s.h.Invalidate(slotID)
		s.confirm(n)
	}
}

// confirm answers n if its writer asked for it; the handler has applied it.
func (s *Sub) confirm(n Notice) {
	if n.Confirm != "" && n.Origin != "" {
		s.answer(n.Confirm, n.Origin)
	}
}

// errNoEcho is why a session ends when its heartbeat stops coming back.
var errNoEcho = errors.New("no heartbeat echo")

// watch publishes the heartbeat and ends the session when its echo stops
// coming back (a dead or half-open connection) or the bridge closes:
// closing the PubSub is what unblocks Receive. Only a confirmed (live)
// subscription counts as a miss and resyncs: an attempt that never got
// confirmed had nothing to lose, and its confirmation would resync anyway.
func (b *Bridge) watch(ps *redis.PubSub, stop <-chan struct{}, live, killed *atomic.Bool) {
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
					b.cfg.Logger.Warn("slotcache: no heartbeat echo from Redis; flushing the local cache and resubscribing",
						"channel", b.cfg.Channel, "silent", silent)
					b.each(func(s *Sub) {
						s.h.Resync()
						s.stats.heartbeatMisses.Add(1) // after the resync, as in subscribed
					})
					b.lossReason.Store(&lossReason{err: errNoEcho, at: time.Now()})
				}
				killed.Store(true)
				_ = ps.Close()
				return
			}
			b.heartbeat(hb)
		}
	}
}

// heartbeat publishes one heartbeat without blocking the watcher, which a
// publish stuck on a dead link would otherwise keep from checking the
// silence and from seeing Close (see publish). At most one is in flight. Its
// payload carries the time it was sent, the watermark its echo proves.
func (b *Bridge) heartbeat(hb time.Duration) {
	if !b.hbPending.CompareAndSwap(false, true) {
		return
	}
	b.async(func() {
		defer b.hbPending.Store(false)
		ctx, cancel := context.WithTimeout(b.ctx, hb)
		defer cancel()
		payload := b.cfg.Origin + "@" + strconv.FormatInt(b.now(), 10)
		_ = b.cfg.Client.Publish(ctx, b.hbChannel, payload).Err()
	})
}

// jitter spreads reconnection attempts of many instances over [d/2, d).
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}
