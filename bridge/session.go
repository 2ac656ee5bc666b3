package bridge

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// session runs one subscription from Subscribe to its first error, and
// reports whether Redis confirmed it. A fresh session per failure keeps the
// flow explicit: every confirmation, first or not, is a resync point.
//
// Nothing here holds b.mu during Redis I/O, and nothing waits on Redis
// without a bound: go-redis dials and sends HELLO inside Subscribe and
// Receive, bounded by the client's DialTimeout and ReadTimeout rather than
// by b.ctx (forever with ReadTimeout -1), and holds the PubSub's own lock
// meanwhile, so that even PubSub.Close waits. Subscribe and the receive
// loop therefore run on goroutines of their own, which the session
// abandons when the heartbeat finds them stuck (see subscribe and
// abandon): the next session dials a fresh connection, which may well
// work, while the stuck one ends whenever go-redis gives up. Close waits
// for all of them only within Config.CloseTimeout.
func (b *Bridge) session() (confirmed bool) {
	n := b.sessions.Add(1)
	channels := b.channels()
	ps, ok := b.subscribe(channels)
	if !ok {
		return false
	}
	if !b.adopt(ps, channels) {
		b.goTracked(func() { _ = ps.Close() })
		return false
	}

	var live atomic.Bool   // confirmed, as the watcher sees it
	var killed atomic.Bool // ended by the watcher, which logged why
	var conf atomic.Bool   // confirmed, as session reports it
	received := make(chan struct{})
	b.goTracked(func() {
		defer close(received)
		b.receive(n, ps, &live, &killed, &conf)
	})
	b.watch(ps, received, &live, &killed)

	b.mu.Lock()
	if b.ps == ps {
		b.ps = nil
	}
	b.mu.Unlock()
	// Closing ps is what ends Receive; both may wait for a dial stuck
	// under the PubSub's lock, so neither is waited for beyond a grace.
	b.goTracked(func() { _ = ps.Close() })
	b.abandon(received)
	return conf.Load()
}

// stuckLimit and stuckMax bound the subscription attempts left blocked on
// a dead or frozen link: each holds a goroutine and a socket until
// go-redis gives up, which, with ReadTimeout -1 on a half-open link, may be
// never. Past stuckLimit, a new attempt starts only once per stuckRetry,
// so that a link that heals for new connections while the frozen ones
// stay frozen is still found (TestResubscribesPastStuckLimit); past
// stuckMax, none.
const (
	stuckLimit = 2
	stuckMax   = 8
)

// stuckRetry is how often an attempt starts past stuckLimit: every ten
// heartbeats, or every second without a heartbeat.
func (b *Bridge) stuckRetry() time.Duration {
	if hb := b.cfg.Heartbeat; hb > 0 {
		return 10 * hb
	}
	return time.Second
}

// subscribe runs Client.Subscribe and waits for it at most three
// heartbeats (no bound without a heartbeat, which is how the bridge detects
// a dead link anyway) or until Close. An attempt that takes longer is left
// to finish on its own and close its PubSub then; while stuckLimit of them
// are pending, a new one starts only once per stuckRetry.
func (b *Bridge) subscribe(channels []string) (*redis.PubSub, bool) {
	switch n := b.stuck.Load(); {
	case n >= stuckMax:
		return nil, false
	case n >= stuckLimit:
		now := time.Now()
		if now.Sub(b.stuckTry) < b.stuckRetry() {
			return nil, false
		}
		b.stuckTry = now
	}
	var (
		mu        sync.Mutex
		result    *redis.PubSub
		abandoned bool
	)
	ready := make(chan struct{})
	b.goTracked(func() {
		ps := b.cfg.Client.Subscribe(b.ctx, channels...)
		mu.Lock()
		defer mu.Unlock()
		if abandoned {
			b.stuck.Add(-1)
			_ = ps.Close() // not stuck any more: nothing holds its lock
			return
		}
		result = ps
		close(ready)
	})
	var timeout <-chan time.Time
	if hb := b.cfg.Heartbeat; hb > 0 {
		t := time.NewTimer(3 * hb)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-ready:
		return result, true
	case <-timeout:
	case <-b.ctx.Done():
	}
	mu.Lock()
	defer mu.Unlock()
	if result != nil { // ready just now
		if b.ctx.Err() != nil {
			b.goTracked(func() { _ = result.Close() })
			return nil, false
		}
		return result, true
	}
	abandoned = true
	b.stuck.Add(1)
	if b.ctx.Err() == nil {
		b.cfg.Logger.Warn("slotcache: Redis did not answer SUBSCRIBE; trying a fresh connection",
			"channel", b.cfg.Channel, "waited", 3*b.cfg.Heartbeat)
	}
	return nil, false
}

// abandon waits briefly for a session's receive loop to end after its
// PubSub was closed, and otherwise leaves it, counted as stuck, to end when
// go-redis releases it: a loop stuck in a dial under the PubSub's lock
// cannot even be closed until then. Its session number is stale by then,
// so it hands nothing to the handlers that matters (see receive).
func (b *Bridge) abandon(received <-chan struct{}) {
	t := time.NewTimer(abandonGrace)
	defer t.Stop()
	select {
	case <-received:
		return
	case <-t.C:
	case <-b.ctx.Done():
		return // Close bounds the wait for it
	}
	b.stuck.Add(1)
	b.goTracked(func() {
		<-received
		b.stuck.Add(-1)
	})
}

// goTracked runs f on a goroutine that Close waits for (within its bound),
// even after Close began: unlike async, it must only be called from a
// goroutine Close already waits for (run's), so that the WaitGroup's
// count is positive and Add is safe.
func (b *Bridge) goTracked(f func()) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		f()
	}()
}

// abandonGrace is how long a session waits for its closed receive loop.
const abandonGrace = 100 * time.Millisecond

// receive is a session's receive loop, until ps fails or is closed. Once
// the session is over (killed, or a newer one started), its messages are
// dropped: a late confirmation or echo of a dead session must not move the
// state of the live one.
func (b *Bridge) receive(n uint64, ps *redis.PubSub, live, killed, conf *atomic.Bool) {
	for {
		msg, err := ps.Receive(b.ctx)
		if err != nil {
			if b.ctx.Err() == nil && !killed.Load() && b.switching.Load() != ps {
				b.lost(conf.Load(), err)
			}
			return
		}
		if killed.Load() || b.sessions.Load() != n {
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind != "subscribe" {
				continue
			}
			if s := b.sub(m.Channel); s != nil {
				conf.Store(true)
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
		if !slices.Contains(channels, ch) {
			missing = append(missing, ch, ackChannel(ch, b.cfg.Origin))
		}
	}
	b.mu.Unlock()
	if len(missing) > 0 {
		_ = ps.Subscribe(b.ctx, missing...) // a failure breaks the session, whose successor retries
	}
	return true
}

// lost records why a session ended, for the log line of the next
// confirmation. Losing a confirmed subscription is worth a warning: until
// the next one, invalidations from other instances are lost and the cache
// serves at most the staleness bound. Failed attempts while Redis stays
// unreachable warn once, then stay at Debug.
func (b *Bridge) lost(confirmed bool, err error) {
	// The refusal first: whoever sees the loss (Down) sees it too.
	refused := b.subscribeRefused(err)
	b.lossReason.Store(&lossReason{err: err, at: time.Now()})
	if refused {
		return // logged at Error: a right, a password or a certificate is wrong
	}
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

// Down returns why the bridge has not heard from Redis since it last did
// (a confirmation or a heartbeat echo): the error that ended its last
// session or failed its last attempt to subscribe; nil when none did since,
// or never. It is what an exporter or a startup check shows for an
// unreachable Redis, which a Refusal does not cover.
func (b *Bridge) Down() error {
	r := b.lossReason.Load()
	if r == nil || r.at.Sub(b.start) < time.Duration(b.lastEcho.Load()) {
		return nil
	}
	return r.err
}

// subscribed marks a confirmed subscription of s's channel in session n:
// whatever was cached before it may have missed invalidations, so its
// engine resyncs. It is counted after the resync, so that whoever sees the
// count sees the flush.
func (s *Sub) subscribed(n uint64) {
	b := s.b
	b.lastEcho.Store(b.now())
	s.h.Resync()
	for cur := s.session.Load(); cur < n && !s.session.CompareAndSwap(cur, n); cur = s.session.Load() {
	}
	count := s.stats.subscriptions.Add(1)
	s.readyOnce.Do(func() { close(s.ready) })
	s.signalBack()
	b.failing.Store(false)
	b.checkRefusal(subscribeKey, "", nil)
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
// still waiting for its confirmation has not heard everything. A heartbeat
// this bridge did not seal is ignored and counted (signhb.go). While the
// damper holds invalidations, it passes the watermark on with their flush.
func (b *Bridge) echo(n uint64, payload string) {
	sent, ok, forged := b.hb.open(b.hbChannel, payload)
	if forged {
		b.each(func(s *Sub) { s.stats.forgedHeartbeats.Add(1) })
		b.cfg.Logger.Debug("slotcache: ignored a heartbeat this instance did not send", "channel", b.hbChannel)
	}
	if !ok {
		return
	}
	b.lastEcho.Store(b.now())
	at := b.start.Add(time.Duration(sent))
	b.each(func(s *Sub) {
		if s.session.Load() == n {
			s.damp.watermark(at) // passed on once what is held is applied
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
	case !s.verifiedNotice(n):
		// forged, stale, replayed or unsigned: counted by verifiedNotice
	case n.Origin == b.cfg.Origin:
		s.stats.echoes.Add(1)
		if n.Confirm != "" {
			s.confirms.answered(n.Confirm, n.Origin) // the writer's own answer
		}
	case slotID == "":
		s.stats.filled.Add(1)
		s.h.Filled(n.Filled)
	default: // slotID, or All: at once, or held in a storm (damp.go)
		s.damp.offer(slotID, n.Confirm, n.Origin)
	}
}

// errNoEcho is why a session ends when its heartbeat stops coming back.
var errNoEcho = errors.New("no heartbeat echo")

// watch publishes the heartbeat until the session's receive loop ends, the
// bridge closes, or the heartbeat's echo stops coming back (a dead or
// half-open connection); the session then closes the PubSub, which is what
// ends Receive. Only a confirmed (live) subscription counts as a miss and
// resyncs: an attempt that never got confirmed had nothing to lose, and its
// confirmation would resync anyway.
func (b *Bridge) watch(ps *redis.PubSub, received <-chan struct{}, live, killed *atomic.Bool) {
	started := b.now() // the silence is this session's, though lastEcho may be older
	var tick <-chan time.Time
	if hb := b.cfg.Heartbeat; hb > 0 {
		t := time.NewTicker(hb)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-received:
			return
		case <-b.ctx.Done():
			return
		case <-tick:
			hb := b.cfg.Heartbeat
			if silent := time.Duration(b.now() - max(started, b.lastEcho.Load())); silent > 3*hb {
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
		payload := b.hb.seal(b.hbChannel, b.cfg.Origin, b.now())
		// Abandoned after one interval: one stuck on a dead pooled
		// connection (forever with ReadTimeout -1) must not stop the
		// heartbeats of the next, healthy session.
		_, _ = b.publish(ctx, b.hbChannel, []byte(payload))
	})
}

// jitter spreads reconnection attempts of many instances over [d/2, d).
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}
