package bridge

import (
	"sync/atomic"
	"time"
)

// Stats counts what the bridge saw and did on one channel.
type Stats struct {
	// Applied counts invalidations from other instances that were applied.
	Applied uint64
	// Filled counts fill notices from other instances passed to the
	// handler.
	Filled uint64
	// Echoes counts this instance's own messages, skipped.
	Echoes uint64
	// Malformed counts ignored messages: bad JSON, wrong types, missing
	// slotId, or over the size limit.
	Malformed uint64
	// PublishErrors counts publishes Redis failed or refused, each once,
	// when its answer comes (one that never answers is counted in Queued
	// only); the outbox's retries are not counted again.
	PublishErrors uint64
	// Subscriptions counts confirmed subscriptions, the first included;
	// every one after the first is a resubscription that flushed the cache.
	Subscriptions uint64
	// HeartbeatMisses counts subscriptions abandoned because the heartbeat
	// echo stopped.
	HeartbeatMisses uint64
	// Queued counts invalidations put in the outbox because Redis did not
	// take them in time (or older ones were waiting there).
	Queued uint64
	// Retried counts invalidations published from the outbox.
	Retried uint64
	// Dropped counts invalidations still queued when the bridge closed.
	Dropped uint64
	// OutboxSize is the number of invalidations queued right now.
	OutboxSize uint64
	// Damped counts remote invalidations held in a storm instead of applied
	// at once (Config.Damping); each is applied, coalesced, by a flush and
	// counted in Applied then.
	Damped uint64
	// DampFlushes counts the flushes that applied held invalidations.
	DampFlushes uint64
	// DampFolded counts the times the held single slots passed their bound
	// and folded into one invalidation of every slot.
	DampFolded uint64
	// DampMaxDelay is the longest an invalidation was held, since the last
	// ResetStats: the staleness damping added.
	DampMaxDelay time.Duration
	// SentinelSwitches counts primaries switched by the sentinels, as the
	// bridge heard them (Config.Sentinel); shared by the bridge's channels.
	SentinelSwitches uint64

	// Signed messages (Signing); all zero on a channel that does not sign.

	// UnsignedAccepted counts unsigned messages applied in migration mode
	// (Signing.AcceptUnsigned): while it grows, some instance still does
	// not sign, and signatures cannot be required yet.
	UnsignedAccepted uint64
	// RefusedUnsigned counts unsigned messages ignored because signatures
	// are required.
	RefusedUnsigned uint64
	// RefusedForged counts messages ignored because their signature was
	// malformed, named an unknown key, or did not match.
	RefusedForged uint64
	// RefusedStale counts correctly signed messages ignored because their
	// timestamp was more than Signing.MaxAge from this clock.
	RefusedStale uint64
	// RefusedReplayed counts correctly signed messages ignored because
	// the same one was already accepted.
	RefusedReplayed uint64
	// ForgedHeartbeats counts messages on the bridge's heartbeat channel
	// that it did not send: a forged heartbeat would fake the staleness
	// watermark. Counted on every channel of the bridge, as heartbeat
	// misses are, signing or not.
	ForgedHeartbeats uint64
}

type counters struct {
	applied, filled, echoes, malformed, publishErrors, subscriptions, heartbeatMisses atomic.Uint64
	queued, retried, dropped                                                          atomic.Uint64
	verdicts                                                                          [numVerdicts]atomic.Uint64 // of signed channels' messages, by verdict (signmsg.go)
	forgedHeartbeats                                                                  atomic.Uint64
	damped, dampFlushes, dampFolded                                                   atomic.Uint64
	dampMaxDelay                                                                      atomic.Int64 // nanoseconds
}

// Stats returns the counters of Config.Channel.
func (b *Bridge) Stats() Stats { return b.primary.Stats() }

// ResetStats zeroes the counters of Config.Channel.
func (b *Bridge) ResetStats() { b.primary.ResetStats() }

// Stats returns the counters of s's channel.
func (s *Sub) Stats() Stats {
	c := &s.stats
	return Stats{
		Applied:         c.applied.Load(),
		Filled:          c.filled.Load(),
		Echoes:          c.echoes.Load(),
		Malformed:       c.malformed.Load(),
		PublishErrors:   c.publishErrors.Load(),
		Subscriptions:   c.subscriptions.Load(),
		HeartbeatMisses: c.heartbeatMisses.Load(),
		Queued:          c.queued.Load(),
		Retried:         c.retried.Load(),
		Dropped:         c.dropped.Load(),
		OutboxSize:      uint64(s.out.size()),
		Damped:          c.damped.Load(),
		DampFlushes:     c.dampFlushes.Load(),
		DampFolded:      c.dampFolded.Load(),
		DampMaxDelay:    time.Duration(c.dampMaxDelay.Load()),

		SentinelSwitches: s.b.stats.switches.Load(),

		UnsignedAccepted: c.verdicts[verdictUnsigned].Load(),
		RefusedUnsigned:  c.verdicts[refusedUnsigned].Load(),
		RefusedForged:    c.verdicts[refusedForged].Load(),
		RefusedStale:     c.verdicts[refusedStale].Load(),
		RefusedReplayed:  c.verdicts[refusedReplayed].Load(),
		ForgedHeartbeats: c.forgedHeartbeats.Load(),
	}
}

// ResetStats zeroes the counters of s's channel.
func (s *Sub) ResetStats() {
	c := &s.stats
	for _, v := range []*atomic.Uint64{&c.applied, &c.filled, &c.echoes, &c.malformed, &c.publishErrors, &c.subscriptions, &c.heartbeatMisses, &c.queued, &c.retried, &c.dropped,
		&c.forgedHeartbeats, &c.damped, &c.dampFlushes, &c.dampFolded} {
		v.Store(0)
	}
	for i := range c.verdicts {
		c.verdicts[i].Store(0)
	}
	c.dampMaxDelay.Store(0)
}

// Health is the state of a channel's subscription now, for exporters.
type Health struct {
	// Subscribed reports that the channel was confirmed, that a session is
	// open, and that the bridge heard from Redis within the heartbeat's
	// dead-link threshold (three heartbeats; no condition without a
	// heartbeat).
	Subscribed bool
	// SinceHeard is the time since the bridge last heard from Redis (a
	// heartbeat echo or a confirmation), or since it started if never.
	// Reconnection attempts hear nothing: it grows through an outage.
	SinceHeard time.Duration
}

// Health returns the state of s's subscription. It takes the bridge's
// lock, which nothing holds across Redis I/O (the session dials and
// subscribes outside it), only around brief in-memory steps such as the
// lookup of each message's channel: giving up on a held lock would read
// a live subscription as down whenever a scrape met a message.
func (s *Sub) Health() Health {
	b := s.b
	h := Health{SinceHeard: time.Duration(b.now() - b.lastEcho.Load())}
	select {
	case <-s.ready:
	default:
		return h // never confirmed
	}
	b.mu.Lock()
	open := b.ps != nil
	b.mu.Unlock()
	h.Subscribed = open && (b.cfg.Heartbeat <= 0 || h.SinceHeard <= 3*b.cfg.Heartbeat)
	return h
}
