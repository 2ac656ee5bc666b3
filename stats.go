package slotcache

import "time"

// Stats is a snapshot of an engine's counters, for observability and tests.
// Counters are read one by one, so a snapshot taken under load is not
// atomic across fields. The numbers that are levels, not counts, are
// tagged stats:"gauge": the one place that says so, for Totals (which
// takes them as they are instead of adding up what Reset zeroed) and the
// exporters (which report them as gauges).
type Stats struct {
	// Hits counts Gets served from a fresh entry without waiting.
	Hits uint64
	// Misses counts Gets that went to the slot actor (and usually waited
	// for a load).
	Misses uint64
	// Loads counts loader calls made by this instance; a value read from
	// the shared tier (WithFill) is not one.
	Loads uint64
	// Coalesced counts misses that joined a load another caller started
	// instead of starting their own: the stampedes the engine absorbed.
	Coalesced uint64
	// Refreshes counts background reloads started by a behaviour
	// (refresh-ahead, stale-while-revalidate, reload on invalidation).
	Refreshes uint64
	// Uncached counts loaded values a behaviour chose not to cache.
	Uncached uint64
	// LoadErrors counts loads that failed: loader errors, panics and
	// timeouts.
	LoadErrors uint64
	// LoaderPanics counts loads whose loader panicked, including one that
	// panicked after its load had timed out (logged, nothing restarted).
	LoaderPanics uint64
	// LoadTimeouts counts loads that ran past the load timeout.
	LoadTimeouts uint64
	// Invalidations counts calls of Invalidate and InvalidateAll here.
	Invalidations uint64
	// CrossProcessInvalidations counts invalidations received from other
	// instances and applied.
	CrossProcessInvalidations uint64
	// MalformedMessages counts channel messages ignored as malformed.
	MalformedMessages uint64
	// PublishErrors counts publishes Redis failed, each once; a publish
	// that never answers shows in OutboxQueued instead.
	PublishErrors uint64
	// Subscriptions counts confirmed Redis subscriptions; each one after the
	// first is a resubscription after which the engine flushed its cache.
	Subscriptions uint64
	// HeartbeatMisses counts subscriptions found dead by the heartbeat.
	HeartbeatMisses uint64
	// Slots is the number of slots holding an entry right now, including
	// expired or invalidated ones whose memory is not yet reclaimed; with
	// WithMaxSlots it never exceeds the limit.
	Slots uint64 `stats:"gauge"`
	// EvictedSize counts entries evicted to stay within WithMaxSlots.
	EvictedSize uint64
	// EvictedExpired counts expired entries whose memory was reclaimed.
	EvictedExpired uint64
	// EvictedInvalidated counts invalidated entries whose memory was
	// reclaimed.
	EvictedInvalidated uint64
	// Rejected counts loaded values not cached because the cache was full
	// of more frequently requested slots.
	Rejected uint64
	// Passivations counts slot actors that gave their slot up because they
	// had nothing to do; the next miss on the slot binds a new one.
	Passivations uint64
	// Actors is the number of slot actors bound right now (a gauge): slots
	// with loads in flight or recently active. An idle engine has none.
	Actors uint64 `stats:"gauge"`
	// SlotRestarts counts slot actors restarted by their supervisor.
	SlotRestarts uint64

	// Fill coordination (WithFill); all zero without it. Every coordinated
	// load ends in exactly one of the outcomes FillSharedHits through
	// FillCancelled, or FillSharedRefreshes.

	// FillSharedHits counts loads served from the shared tier.
	FillSharedHits uint64
	// FillLeaderLoads counts loads this instance ran holding the slot's
	// lock (successful or not; the log tells).
	FillLeaderLoads uint64
	// FillFollowerWoken counts loads served by another instance's fill,
	// found right after its commit notice woke this one.
	FillFollowerWoken uint64
	// FillFollowerPolled counts loads served by another instance's fill,
	// found by polling (the notice was lost, or came between two polls).
	FillFollowerPolled uint64
	// FillFollowerTimeouts counts followers that waited FillPolicy.Wait in
	// vain and loaded locally.
	FillFollowerTimeouts uint64
	// FillDegraded counts loads that met a Redis error and loaded locally.
	FillDegraded uint64
	// FillStaleCommitsRejected counts leader loads whose commit was
	// refused because the lease expired or the slot was invalidated
	// meanwhile; their value answered their waiters only.
	FillStaleCommitsRejected uint64
	// FillCancelled counts followers whose load context ended (Close, or
	// the load timeout) before the value came.
	FillCancelled uint64
	// FillSharedRefreshes counts loads that found the shared copy due for
	// reload (refresh-ahead), won its lease, served the copy and reloaded
	// it from the source for the fleet.
	FillSharedRefreshes uint64
	// FillUnverified counts loads that found a shared copy that did not
	// verify (WithSigning): unsigned, forged, copied from another slot,
	// or past its signed expiry. It was not served; this instance loaded
	// the slot itself (locally, or rewriting a copy due for refresh).
	FillUnverified uint64
	// FillUncodable counts loaded values the codec could not encode:
	// served and cached here, not shared. Not an outcome of its own (they
	// are leader loads).
	FillUncodable uint64
	// FillWaiting is the number of followers waiting right now (a gauge).
	FillWaiting uint64 `stats:"gauge"`
	// FillNotices counts fill notices received from other instances.
	FillNotices uint64

	// Invalidations Redis did not take at once (see ErrQueued); filled in
	// by coherence_stats.go.

	// OutboxQueued counts invalidations queued because Redis did not take
	// them within the publish timeout (or older ones were queued).
	OutboxQueued uint64
	// OutboxRetried counts queued invalidations published later.
	OutboxRetried uint64
	// OutboxDropped counts invalidations still queued at Close: the other
	// instances keep those slots until their staleness bound or TTL.
	OutboxDropped uint64
	// OutboxSize is the number of invalidations queued right now (a gauge).
	OutboxSize uint64 `stats:"gauge"`

	// Signatures (WithSigning); filled in by signing.go, all zero without
	// it but ForgedHeartbeats.

	// UnsignedMessages counts unsigned messages accepted in migration mode
	// (Signing.AcceptUnsigned): while it grows, some instance or program
	// on the channel does not sign yet.
	UnsignedMessages uint64
	// RefusedUnsigned counts unsigned messages ignored because signatures
	// are required.
	RefusedUnsigned uint64
	// RefusedForged counts messages ignored because their signature was
	// malformed, named a key this engine does not hold, or did not match:
	// a forgery, or a fleet whose keys disagree.
	RefusedForged uint64
	// RefusedStale counts correctly signed messages ignored because their
	// timestamp was more than Signing.MaxAge from this engine's clock: a
	// replay, or clocks too far apart.
	RefusedStale uint64
	// RefusedReplayed counts correctly signed messages ignored because the
	// same message had already been accepted.
	RefusedReplayed uint64
	// ForgedHeartbeats counts messages on this engine's heartbeat channel
	// that it did not send, signing or not: a forged heartbeat would fake
	// the proof the staleness bound rests on, and is ignored.
	ForgedHeartbeats uint64

	// Storms of remote invalidations (WithInvalidationDamping); filled in
	// by damping.go.

	// DampedInvalidations counts invalidations from other instances held
	// in a storm instead of applied at once; a flush applies them,
	// coalesced, and counts them in CrossProcessInvalidations then. So
	// while some are held, CrossProcessInvalidations - DampedInvalidations
	// (the ones applied at once) can go below zero: take it after a flush.
	DampedInvalidations uint64
	// DampFlushes counts the flushes that applied held invalidations.
	DampFlushes uint64
	// DampFoldedToAll counts the times the held single slots passed their
	// bound (10 000) and folded into one invalidation of every slot.
	DampFoldedToAll uint64
	// DampMaxDelay is the longest an invalidation was held since New (or
	// Reset): the staleness damping added, at most the bound of
	// WithInvalidationDamping plus a timer's lag. A level, as SinceHeard.
	DampMaxDelay time.Duration

	// Latency. Hits are not timed: they would pay a clock read each.

	// LoadLatency is the histogram of load durations, from the loader
	// goroutine's start to its result (with WithFill, the coordination
	// included): how long the callers of a miss waited.
	LoadLatency Histogram
	// FillWait is the histogram of followers' waits for another instance's
	// fill, up to the value they ended with (WithFill).
	FillWait Histogram

	// Redis subscription state (zero without Redis). Not counters: Reset
	// leaves them alone.

	// Subscribed reports that the channel was confirmed, that a session is
	// open, and that Redis was heard from within three heartbeats (the
	// heartbeat's dead-link threshold).
	Subscribed bool
	// SinceHeard is how long ago the subscription last heard from Redis
	// (its own heartbeat echo, or a confirmation); since New if it never
	// did. With the default heartbeat it stays under a second or two while
	// the link is healthy, and grows through an outage: reconnection
	// attempts hear nothing.
	SinceHeard time.Duration
	// RedisRefusal is why Redis refuses this engine a command right now,
	// with the command, or "" when it refuses nothing: a right missing from
	// its ACL user (NOPERM), wrong or missing credentials (WRONGPASS,
	// NOAUTH), or a TLS certificate not trusted. Retrying does not cure
	// these, unlike a network failure: the engine logs each at Error and
	// keeps retrying, and it clears once the command succeeds again (see
	// "Redis TLS and ACL" in the README).
	RedisRefusal string
	// RedisDown is why Redis has not been heard since it last was (a
	// confirmed subscription or a heartbeat echo): the error that ended the
	// last subscription or failed the last attempt to subscribe, such as a
	// refused connection or "no heartbeat echo"; "" once Redis is heard
	// again, or before any attempt failed. With RedisRefusal, it says why
	// Subscribed is false.
	RedisDown string
}

// Stats returns a snapshot of the engine's counters.
func (e *Engine) Stats() Stats {
	s := &e.env.Stats
	st := Stats{
		Hits:               s.Hits.Load(),
		Misses:             s.Misses.Load(),
		Loads:              s.Loads.Load(),
		Coalesced:          s.Coalesced.Load(),
		Refreshes:          s.Refreshes.Load(),
		Uncached:           s.Uncached.Load(),
		LoadErrors:         s.LoadErrors.Load(),
		LoaderPanics:       s.LoaderPanics.Load(),
		LoadTimeouts:       s.LoadTimeouts.Load(),
		Invalidations:      s.Invalidations.Load(),
		SlotRestarts:       s.SlotRestarts.Load(),
		Slots:              uint64(max(0, e.env.Cached())),
		EvictedSize:        s.EvictedSize.Load(),
		EvictedExpired:     s.EvictedExpired.Load(),
		EvictedInvalidated: s.EvictedInvalidated.Load(),
		Rejected:           s.Rejected.Load(),
		Passivations:       s.Passivations.Load(),
		Actors:             uint64(max(s.Actors.Load(), 0)),
	}
	if e.sub != nil {
		b := e.sub.Stats()
		st.CrossProcessInvalidations = b.Applied
		st.MalformedMessages = b.Malformed
		st.PublishErrors = b.PublishErrors
		st.Subscriptions = b.Subscriptions
		st.HeartbeatMisses = b.HeartbeatMisses
		// One snapshot of the channel's counters for every field, so that
		// they agree with each other.
		coherenceStats(&st, b)
		signingStats(&st, b)
		dampingStats(&st, b)
		if e.filler != nil {
			st.FillNotices = b.Filled
		}
	}
	e.fillStats(&st)
	st.LoadLatency = Histogram(e.observe.Loads.Snapshot())
	st.FillWait = Histogram(e.observe.FillWaits.Snapshot())
	if e.sub != nil {
		h := e.sub.Health()
		st.Subscribed, st.SinceHeard = h.Subscribed, h.SinceHeard
		if r := e.sub.Bridge().Refusal(); r != nil {
			st.RedisRefusal = r.Error()
		}
		if err := e.sub.Bridge().Down(); err != nil {
			st.RedisDown = err.Error()
		}
	}
	return st
}
