package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/slotcache/slotcache"
)

// refusalPoll is how often checkRedis looks at Stats().RedisRefusal while
// it waits for the subscription. It only bounds how soon a refusal is
// reported: a refusal already takes go-redis's dial retries to arrive.
const refusalPoll = 20 * time.Millisecond

// redisSetting says which channel checkRedis subscribes to and, for its
// messages, which Redis a command was given and how to run without it.
type redisSetting struct {
	// channel is one like those the command's engines use, so that an ACL
	// user's channel rights apply to the check as to them.
	channel string
	// where names the setting, password redacted, e.g.
	// "REDIS_URL=rediss://app@host:6380/0".
	where string
	// fix says where the credentials and TLS settings come from, for a
	// refusal.
	fix string
	// without says how to do without Redis, e.g. "unset REDIS_URL to run
	// only the local demo".
	without string
}

// envFix is redisSetting.fix for engines configured by FromEnv.
const envFix = "Check the credentials (the URL's, or REDIS_USERNAME and REDIS_PASSWORD), the user's ACL rights " +
	"and the TLS files (REDIS_TLS_CA_FILE, REDIS_TLS_CERT_FILE, REDIS_TLS_KEY_FILE)"

// checkRedis starts an engine with opts, which configure its Redis the way
// the command's own engines will be configured (FromEnv, or WithRedis),
// on set.channel, and waits until Redis confirms its subscription.
// So the check dials exactly what the engines dial: the URL, Sentinel or
// Cluster, TLS files and credentials from the environment, and needs no
// right they do not need (no PING). It fails, with a message naming
// set.where and what to do, when New rejects the options, when Redis
// refuses the engine (credentials, ACL rights, TLS certificates: the
// engine's Stats().RedisRefusal, which names the refusal), or when it
// cannot reach Redis: the engine logs its first failed attempt at Warn
// with the error, and checkTimeout bounds an attempt that never ends.
func checkRedis(ctx context.Context, set redisSetting, opts ...slotcache.Option) error {
	failed := make(chan error, 1)
	opts = append(opts,
		slotcache.WithChannel(set.channel),
		slotcache.WithLogger(slog.New(firstError{failed})))
	e, err := slotcache.New(opts...)
	if err != nil {
		return fmt.Errorf("%s: %w", set.where, err)
	}
	defer e.Close()
	wctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	ready := make(chan error, 1)
	go func() { ready <- e.WaitReady(wctx) }()
	poll := time.NewTicker(refusalPoll)
	defer poll.Stop()
	for {
		var err error
		select {
		case err = <-ready:
			if err == nil {
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err() // interrupted: no verdict on Redis
			}
			err = fmt.Errorf("no subscription confirmed within %v: %w", checkTimeout, err)
		case err = <-failed:
		case <-poll.C:
		}
		if r := e.Stats().RedisRefusal; r != "" {
			return fmt.Errorf("refused by Redis at %s: %s\n"+
				"%s: see \"Redis TLS and ACL\" in the README; or %s", set.where, r, set.fix, set.without)
		}
		if err != nil {
			return fmt.Errorf("cannot reach Redis at %s: %w\n"+
				"Start a redis-server there (Debian: apt-get install redis-server), or %s",
				set.where, err, set.without)
		}
	}
}

// firstError is a slog.Handler that hands on the error of the first
// record at Warn or above that carries one: checkRedis's engine logs so
// when an attempt to subscribe fails, and does nothing else.
type firstError struct{ ch chan<- error }

// Enabled reports whether level is Warn or above.
func (h firstError) Enabled(_ context.Context, level slog.Level) bool {
	return level >= slog.LevelWarn
}

// Handle sends r's "err" attribute, if it is an error, unless one was
// sent already.
func (h firstError) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		err, ok := a.Value.Any().(error)
		if a.Key != "err" || !ok {
			return true
		}
		select {
		case h.ch <- err:
		default:
		}
		return false
	})
	return nil
}

// WithAttrs returns h: only the records' own "err" matters.
func (h firstError) WithAttrs([]slog.Attr) slog.Handler { return h }

// WithGroup returns h, as WithAttrs.
func (h firstError) WithGroup(string) slog.Handler { return h }
