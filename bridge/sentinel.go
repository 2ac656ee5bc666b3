package bridge

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelWatch tells the bridge which sentinels to listen to for a
// failover of its primary (Config.Sentinel).
//
// go-redis's failover client sends new commands to the new primary after a
// failover, but leaves an open subscription on the old one, now a replica:
// invalidations published on the new primary meanwhile are lost (about 10 s
// measured here) until the heartbeat misses its echo. The sentinels announce
// the switch on their +switch-master channel; the bridge ends its
// subscription when it hears it, and the next one is made through the
// failover client, to the new primary.
type SentinelWatch struct {
	// Addrs are the sentinels, tried in turn until one answers.
	Addrs []string
	// MasterName is the monitored primary whose switch matters.
	MasterName string
	// Username, Password and TLSConfig reach the sentinels (go-redis's
	// FailoverOptions.SentinelUsername, SentinelPassword, TLSConfig).
	Username, Password string
	TLSConfig          *tls.Config
}

// errSwitched is why a session ends when the sentinels switch primaries.
var errSwitched = errors.New("sentinel switched the primary")

// watchSentinels listens to one sentinel at a time for +switch-master of
// the watched primary, moving to the next one on error, until Close.
func (b *Bridge) watchSentinels(w *SentinelWatch) {
	defer b.wg.Done()
	b.retry(func(i int) bool { return b.listenSentinel(w, w.Addrs[i%len(w.Addrs)]) })
}

// listenSentinel subscribes to +switch-master on the sentinel at addr until
// an error or Close, and reports whether the subscription was confirmed.
func (b *Bridge) listenSentinel(w *SentinelWatch, addr string) (confirmed bool) {
	sc := redis.NewSentinelClient(&redis.Options{
		Addr: addr, Username: w.Username, Password: w.Password, TLSConfig: w.TLSConfig,
		DialTimeout: time.Second, ReadTimeout: -1, WriteTimeout: time.Second,
	})
	defer func() { _ = sc.Close() }()
	ps := sc.Subscribe(b.ctx, "+switch-master")
	// Receive does not return on ctx's end: closing the PubSub does. A
	// PubSub stuck in a dial holds its lock, so close it off this goroutine.
	stop := context.AfterFunc(b.ctx, func() { _ = ps.Close() })
	defer func() {
		if stop() {
			_ = ps.Close()
		}
	}()
	for {
		msg, err := ps.Receive(b.ctx)
		if err != nil {
			if b.ctx.Err() == nil {
				b.cfg.Logger.Debug("slotcache: sentinel subscription lost", "sentinel", addr, "err", err)
			}
			return confirmed
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			confirmed = true
		case *redis.Message:
			// "<master name> <old ip> <old port> <new ip> <new port>"
			f := strings.Fields(m.Payload)
			if len(f) == 5 && f[0] == w.MasterName {
				b.switched(f[3] + ":" + f[4])
			}
		}
	}
}

// switched ends the live subscription so that the next one goes to the new
// primary; its confirmation resyncs, as always.
func (b *Bridge) switched(primary string) {
	b.stats.switches.Add(1)
	b.cfg.Logger.Info("slotcache: Sentinel switched the Redis primary; resubscribing to the new one",
		"channel", b.cfg.Channel, "primary", primary)
	b.mu.Lock()
	ps := b.ps
	b.mu.Unlock()
	if ps == nil {
		return // between sessions: the next one asks the sentinels anyway
	}
	b.lossReason.Store(&lossReason{err: errSwitched, at: time.Now()})
	b.switching.Store(ps)
	b.async(func() { _ = ps.Close() })
}
