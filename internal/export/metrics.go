package export

import (
	"github.com/slotcache/slotcache"
)

// Counter is a monotonic count, read from Engine.Totals. Label and Value,
// when set, make it one series of a labelled family (fill outcomes,
// eviction reasons).
type Counter struct {
	Name  string                        // without the "slotcache_" prefix and "_total" suffix
	Help  string                        // set on a family's first series
	Label string                        // "" for none
	Value string                        // of Label, for this series
	Redis bool                          // only for caches with Redis (CacheTotals.Redis)
	Read  func(*slotcache.Stats) uint64 // the value, from Engine.Totals
}

// Counters lists every counter of Stats, grouped into families by name.
var Counters = []Counter{
	{Name: "hits", Help: "Gets served from a fresh entry without waiting.", Read: func(s *slotcache.Stats) uint64 { return s.Hits }},
	{Name: "misses", Help: "Gets that went to the slot actor.", Read: func(s *slotcache.Stats) uint64 { return s.Misses }},
	{Name: "loads", Help: "Loader calls (shared loads).", Read: func(s *slotcache.Stats) uint64 { return s.Loads }},
	{Name: "coalesced", Help: "Misses that joined a load already in flight.", Read: func(s *slotcache.Stats) uint64 { return s.Coalesced }},
	{Name: "refreshes", Help: "Background reloads started by a behaviour.", Read: func(s *slotcache.Stats) uint64 { return s.Refreshes }},
	{Name: "uncached", Help: "Loaded values a behaviour chose not to cache.", Read: func(s *slotcache.Stats) uint64 { return s.Uncached }},
	{Name: "load_errors", Help: "Loads that failed: loader errors, panics and timeouts.", Read: func(s *slotcache.Stats) uint64 { return s.LoadErrors }},
	{Name: "loader_panics", Help: "Loads whose loader panicked.", Read: func(s *slotcache.Stats) uint64 { return s.LoaderPanics }},
	{Name: "load_timeouts", Help: "Loads that ran past the load timeout.", Read: func(s *slotcache.Stats) uint64 { return s.LoadTimeouts }},
	{Name: "invalidations", Help: "Invalidate and InvalidateAll calls on this instance.", Read: func(s *slotcache.Stats) uint64 { return s.Invalidations }},
	{Name: "remote_invalidations", Help: "Invalidations received from other instances and applied.", Redis: true, Read: func(s *slotcache.Stats) uint64 { return s.CrossProcessInvalidations }},
	{Name: "evictions", Help: "Entries whose memory was reclaimed, by reason.", Label: "reason", Value: "size", Read: func(s *slotcache.Stats) uint64 { return s.EvictedSize }},
	{Name: "evictions", Label: "reason", Value: "expired", Read: func(s *slotcache.Stats) uint64 { return s.EvictedExpired }},
	{Name: "evictions", Label: "reason", Value: "invalidated", Read: func(s *slotcache.Stats) uint64 { return s.EvictedInvalidated }},
	{Name: "rejected", Help: "Loaded values not cached because the cache was full of more frequently requested slots.", Read: func(s *slotcache.Stats) uint64 { return s.Rejected }},
	{Name: "passivations", Help: "Idle slot actors stopped.", Read: func(s *slotcache.Stats) uint64 { return s.Passivations }},
	{Name: "slot_restarts", Help: "Slot actors restarted by their supervisor.", Read: func(s *slotcache.Stats) uint64 { return s.SlotRestarts }},

	{Name: "fill_outcomes", Help: "Coordinated loads (WithFill), by how they ended.", Label: "outcome", Value: "shared_hit", Redis: true, Read: func(s *slotcache.Stats) uint64 { return s.FillSharedHits }},
	{Name: "fill_outcomes", Label: "outcome", Value: "leader_load", Redis: true, Read: func(s *slotcache.Stats) uint64 { return s.FillLeaderLoads }},
	{Name: "fill_outcomes", Label: "outcome", Value: "follower_woken", Redis: true, Read: func(s *slotcache.Stats) uint64 { return s.FillFollowerWoken }},
	{Name: "fill_outcomes", Label: "outcome", Value: "follower_polled", Redis: true, Read: func(s *slotcache.Stats) uint64 { return s.FillFollowerPolled }},
	{Name: "fill_outcomes", Label: "outcome", Value: "follower_timeout", Redis: true, Read: func(s *slotcache.Stats) uint64 { return s.FillFollowerTimeouts }},
	{Name: "fill_outcomes", Label: "outcome", Value: "degraded", Redis: true, Read: func(s *slotcache.Stats) uint64 { return s.FillDegraded }},
	{Name: "fill_outcomes", Label: "outcome", Value: "stale_commit_rejected", Redis: true, Read: func(s *slotcache.Stats) uint64 { return s.FillStaleCommitsRejected }},
	{Name: "fill_outcomes", Label: "outcome", Value: "cancelled", Redis: true, Read: func(s *slotcache.Stats) uint64 { return s.FillCancelled }},
	{Name: "fill_outcomes", Label: "outcome", Value: "shared_refresh", Redis: true, Read: func(s *slotcache.Stats) uint64 { return s.FillSharedRefreshes }},
	{Name: "fill_outcomes", Label: "outcome", Value: "unverified", Redis: true, Read: func(s *slotcache.Stats) uint64 { return s.FillUnverified }},
	{Name: "fill_uncodable", Help: "Loaded values the fill codec could not encode (served locally, not shared).", Redis: true, Read: func(s *slotcache.Stats) uint64 { return s.FillUncodable }},
	{Name: "fill_notices", Help: "Fill notices received from other instances.", Redis: true, Read: func(s *slotcache.Stats) uint64 { return s.FillNotices }},

	{Name: "redis_subscriptions", Help: "Confirmed Redis subscriptions, the first included.", Redis: true, Read: func(s *slotcache.Stats) uint64 { return s.Subscriptions }},
	{Name: "redis_resyncs", Help: "Cache flushes because invalidations may have been lost: resubscriptions and heartbeat misses.", Redis: true, Read: Resyncs},
	{Name: "redis_heartbeat_misses", Help: "Subscriptions found dead by the heartbeat.", Redis: true, Read: func(s *slotcache.Stats) uint64 { return s.HeartbeatMisses }},
	{Name: "redis_malformed_messages", Help: "Channel messages ignored as malformed.", Redis: true, Read: func(s *slotcache.Stats) uint64 { return s.MalformedMessages }},
	{Name: "redis_refused_messages", Help: "Channel messages ignored by signature checks (WithSigning), by reason.", Label: "reason", Value: "unsigned", Redis: true, Read: func(s *slotcache.Stats) uint64 { return s.RefusedUnsigned }},
	{Name: "redis_refused_messages", Label: "reason", Value: "forged", Redis: true, Read: func(s *slotcache.Stats) uint64 { return s.RefusedForged }},
	{Name: "redis_refused_messages", Label: "reason", Value: "stale", Redis: true, Read: func(s *slotcache.Stats) uint64 { return s.RefusedStale }},
	{Name: "redis_refused_messages", Label: "reason", Value: "replayed", Redis: true, Read: func(s *slotcache.Stats) uint64 { return s.RefusedReplayed }},
	{Name: "redis_unsigned_messages", Help: "Unsigned channel messages accepted in signing's migration mode (Signing.AcceptUnsigned).", Redis: true, Read: func(s *slotcache.Stats) uint64 { return s.UnsignedMessages }},
	{Name: "redis_forged_heartbeats", Help: "Messages on the heartbeat channel this instance did not send, ignored.", Redis: true, Read: func(s *slotcache.Stats) uint64 { return s.ForgedHeartbeats }},
	{Name: "redis_publish_errors", Help: "Invalidations that could not be published.", Redis: true, Read: func(s *slotcache.Stats) uint64 { return s.PublishErrors }},
	{Name: "outbox_queued", Help: "Invalidations queued because Redis did not take them within the publish timeout.", Redis: true, Read: func(s *slotcache.Stats) uint64 { return s.OutboxQueued }},
	{Name: "outbox_retried", Help: "Queued invalidations published later.", Redis: true, Read: func(s *slotcache.Stats) uint64 { return s.OutboxRetried }},
	{Name: "damped_invalidations", Help: "Invalidations from other instances held in a storm and applied, coalesced, by a later flush.", Redis: true, Read: func(s *slotcache.Stats) uint64 { return s.DampedInvalidations }},
	{Name: "damp_flushes", Help: "Flushes that applied held (damped) invalidations.", Redis: true, Read: func(s *slotcache.Stats) uint64 { return s.DampFlushes }},
	{Name: "damp_folded", Help: "Times the held single-slot invalidations passed their bound and folded into one invalidation of every slot.", Redis: true, Read: func(s *slotcache.Stats) uint64 { return s.DampFoldedToAll }},
	{Name: "outbox_dropped", Help: "Invalidations still queued when the engine closed.", Redis: true, Read: func(s *slotcache.Stats) uint64 { return s.OutboxDropped }},
}

// Resyncs counts flushes for possibly lost messages: every confirmed
// subscription after the first, and every heartbeat miss.
func Resyncs(s *slotcache.Stats) uint64 {
	return max(s.Subscriptions, 1) - 1 + s.HeartbeatMisses
}

// Gauge is a level, read from Engine.Totals (which takes gauges as they
// are now).
type Gauge struct {
	Name  string                         // without the "slotcache_" prefix
	Help  string                         // one sentence
	Redis bool                           // only for engines with Redis
	Read  func(*slotcache.Stats) float64 // the level now
}

// Gauges lists the levels.
var Gauges = []Gauge{
	{Name: "slots", Help: "Slots holding an entry, stale ones not yet reclaimed included.", Read: func(s *slotcache.Stats) float64 { return float64(s.Slots) }},
	{Name: "actors", Help: "Slot actors bound right now: slots with loads in flight or recently active.", Read: func(s *slotcache.Stats) float64 { return float64(s.Actors) }},
	{Name: "outbox_size", Help: "Invalidations queued for publishing right now.", Redis: true, Read: func(s *slotcache.Stats) float64 { return float64(s.OutboxSize) }},
	{Name: "fill_waiting", Help: "Followers waiting for another instance's fill right now.", Redis: true, Read: func(s *slotcache.Stats) float64 { return float64(s.FillWaiting) }},
	{Name: "redis_subscribed", Help: "1 while the Redis subscription is open and confirmed, else 0.", Redis: true, Read: func(s *slotcache.Stats) float64 {
		if s.Subscribed {
			return 1
		}
		return 0
	}},
	{Name: "redis_refused", Help: "1 while Redis refuses the engine a command (ACL right, credentials, TLS certificate: see Stats.RedisRefusal and the Error log), else 0.", Redis: true, Read: func(s *slotcache.Stats) float64 {
		if s.RedisRefusal != "" {
			return 1
		}
		return 0
	}},
	{Name: "damp_max_delay_seconds", Help: "Longest time an invalidation from another instance was held by damping.", Redis: true, Read: func(s *slotcache.Stats) float64 { return s.DampMaxDelay.Seconds() }},
	{Name: "redis_last_heard_seconds", Help: "Seconds since the subscription last heard from Redis (heartbeat echo or confirmation).", Redis: true, Read: func(s *slotcache.Stats) float64 { return s.SinceHeard.Seconds() }},
}

// Histogram is a latency histogram of Stats, in seconds.
type Histogram struct {
	Name  string                                     // without the "slotcache_" prefix
	Help  string                                     // one sentence
	Redis bool                                       // only for engines with Redis
	Read  func(*slotcache.Stats) slotcache.Histogram // counts since New
}

// Histograms lists the latency histograms.
var Histograms = []Histogram{
	{Name: "load_duration_seconds", Help: "Duration of shared loads (the fill coordination included), as their callers waited.", Read: func(s *slotcache.Stats) slotcache.Histogram { return s.LoadLatency }},
	{Name: "fill_wait_duration_seconds", Help: "Followers' waits for another instance's fill, up to the value they ended with.", Redis: true, Read: func(s *slotcache.Stats) slotcache.Histogram { return s.FillWait }},
}
