package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/slotcache/slotcache"
)

// refusalPoll is how often checkRedis looks at Stats().RedisRefusal and
// RedisDown while it waits for the subscription. It only bounds how soon
// a failure is reported: one already takes go-redis's dial retries to
// arrive.
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
// cannot reach Redis: Stats().RedisDown has the error of the first failed
// attempt, and checkTimeout bounds an attempt that never ends.
func checkRedis(ctx context.Context, set redisSetting, opts ...slotcache.Option) error {
	opts = append(opts, slotcache.WithChannel(set.channel), slotcache.WithLogger(slog.New(slog.DiscardHandler)))
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
		case <-poll.C:
		}
		// A refusal is recorded before the failed attempt (RedisDown).
		st := e.Stats()
		if st.RedisRefusal != "" {
			return fmt.Errorf("refused by Redis at %s: %s\n"+
				"%s: see \"Redis TLS and ACL\" in the README; or %s", set.where, st.RedisRefusal, set.fix, set.without)
		}
		if err == nil && st.RedisDown != "" {
			err = errors.New(st.RedisDown)
		}
		if err != nil {
			return fmt.Errorf("cannot reach Redis at %s: %w\n"+
				"Start a redis-server there (Debian: apt-get install redis-server), or %s",
				set.where, err, set.without)
		}
	}
}
