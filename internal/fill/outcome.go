package fill

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/slotcache/slotcache/internal/core"
)

// Outcome is how a coordinated miss ended. Every call of Load ends in
// exactly one.
type Outcome int

const (
	// SharedHit: the shared tier had the value.
	SharedHit Outcome = iota
	// LeaderLoad: this instance held the lock and loaded (whether the load
	// succeeded, and whether its value could be shared, is in the log).
	LeaderLoad
	// FollowerWoken: another instance filled the slot and its notice woke
	// this one, which then read the value.
	FollowerWoken
	// FollowerPolled: another instance filled the slot and this one found
	// the value on a backoff poll.
	FollowerPolled
	// FollowerTimeout: no value within Wait; this instance loaded locally.
	FollowerTimeout
	// Degraded: a Redis error; this instance loaded locally (or, if the
	// error came at commit, kept what it had loaded).
	Degraded
	// StaleCommitRejected: this instance loaded as leader, but its lease
	// expired or its slot was invalidated before it committed; its value
	// answered its own waiters and was neither shared nor cached.
	StaleCommitRejected
	// Cancelled: the load's context ended while following (engine closing,
	// or the engine's load timeout).
	Cancelled
	// SharedRefresh: the shared copy was due for reload (refresh-ahead);
	// this instance won its lease, served the copy meanwhile and loaded
	// the slot from the source to rewrite it.
	SharedRefresh
	// Unverified: with signing, the shared copy did not verify (unsigned,
	// forged, copied from another slot, or past its signed expiry); this
	// instance loaded the slot itself, locally, or as the holder of a due
	// copy's lock, rewriting it.
	Unverified

	numOutcomes
)

var outcomeNames = [numOutcomes]string{
	"shared_hit", "leader_load", "follower_woken", "follower_polled",
	"follower_timeout", "degraded", "stale_commit_rejected", "cancelled",
	"shared_refresh", "unverified",
}

func (o Outcome) String() string {
	if o < 0 || o >= numOutcomes {
		return "unknown"
	}
	return outcomeNames[o]
}

// level is how loud an outcome is: the normal ones are Debug, those that
// cost extra loads are Info, Redis trouble is Warn.
func (o Outcome) level() slog.Level {
	switch o {
	case FollowerTimeout, StaleCommitRejected, Cancelled, Unverified:
		return slog.LevelInfo
	case Degraded:
		return slog.LevelWarn
	default:
		return slog.LevelDebug
	}
}

// Stats counts outcomes and a few events around them.
type Stats struct {
	Outcomes [numOutcomes]uint64
	// Uncodable counts values that did not encode: served and cached
	// locally, not shared.
	Uncodable uint64
	// Waiting is how many followers are waiting right now (a gauge).
	Waiting int64
}

// Of returns the count of outcome o.
func (s Stats) Of(o Outcome) uint64 { return s.Outcomes[o] }

type counters struct {
	outcomes  [numOutcomes]atomic.Uint64
	uncodable atomic.Uint64
	waiting   atomic.Int64
}

// Stats returns a snapshot of the counters.
func (c *Coordinator) Stats() Stats {
	var s Stats
	for i := range s.Outcomes {
		s.Outcomes[i] = c.stats.outcomes[i].Load()
	}
	s.Uncodable = c.stats.uncodable.Load()
	s.Waiting = c.stats.waiting.Load()
	return s
}

// ResetStats zeroes the counters, except the Waiting gauge.
func (c *Coordinator) ResetStats() {
	for i := range c.stats.outcomes {
		c.stats.outcomes[i].Store(0)
	}
	c.stats.uncodable.Store(0)
}

// miss is one call of Load: what it did so far and how it ended.
type miss struct {
	c        *Coordinator
	slot     string
	start    time.Time
	attempts int // checks of the data key
	outcome  Outcome
	err      error // the Redis, codec or loader error worth logging
	loud     bool  // log at Warn whatever the outcome
	decided  bool
	target   core.FillSlot // the slot loaded for: how to share what a leader loaded
}

// set records the outcome; the last one set before Load returns counts.
func (m *miss) set(o Outcome, err error) {
	m.outcome, m.err, m.decided = o, err, true
}

// finish counts and logs the outcome. panicked reports a loader that did
// not return (panic or Goexit); the panic itself goes on to the slot actor.
func (m *miss) finish(panicked bool) {
	if !m.decided { // only a panic before any decision, which cannot happen
		m.outcome = Degraded
	}
	m.c.stats.outcomes[m.outcome].Add(1)
	log := m.c.cfg.Logger
	lvl := m.outcome.level()
	if panicked {
		lvl = max(lvl, slog.LevelInfo)
	}
	if m.loud {
		lvl = max(lvl, slog.LevelWarn)
	}
	if !log.Enabled(context.Background(), lvl) {
		return
	}
	attrs := []slog.Attr{
		slog.String("slot", m.slot),
		slog.String("outcome", m.outcome.String()),
		slog.Duration("waited", time.Since(m.start)),
		slog.Int("attempts", m.attempts),
	}
	if m.err != nil {
		attrs = append(attrs, slog.String("err", m.err.Error()))
	}
	if panicked {
		attrs = append(attrs, slog.Bool("panicked", true))
	}
	log.LogAttrs(context.Background(), lvl, "slotcache: fill", attrs...)
}
