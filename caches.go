package slotcache

import (
	"errors"
	"fmt"
)

// named starts a named cache of e: machinery of its own (router, directory,
// TTL, size limit, behaviours, channel, Stats) on e's actor system, clock
// and Redis client, which e owns. NewCache wraps it in a typed Cache; the
// machinery is an *Engine internally, but no caller ever holds it as one,
// so a named cache cannot make caches or close what it does not own.
//
// A named cache starts from e's TTL, timeouts, logger, origin and Redis
// client, on the channel "<e's channel>:<name>"; behaviours, size limit and
// fill coordination are not inherited. opts change any of it. Names are
// unique per engine while their cache is open.
func (e *Engine) named(name string, opts []Option) (*Engine, error) {
	if name == "" {
		return nil, &OptionError{Option: "NewCache", Reason: "name is empty"}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed.Load() {
		return nil, ErrClosed
	}
	if _, ok := e.children[name]; ok {
		return nil, fmt.Errorf("slotcache: NewCache(%q): a cache with this name is already open", name)
	}
	base := e.cfg
	base.channel = e.cfg.channel + ":" + name
	base.redis, base.redisURL = e.client, "" // share the engine's client, whoever dialled it
	base.dial = dialConfig{}                 // configured that client
	base.behaviour, base.rules, base.maxSlots, base.fill = nil, nil, 0, nil
	base.typed = typedConfig{}
	cfg, err := configure(base, opts)
	if err = errors.Join(err, cfg.checkNamed()); err != nil {
		return nil, fmt.Errorf("slotcache: NewCache(%q): %w", name, err)
	}
	c := start(cfg, e.host, e)
	c.name = name
	c.observe.Cache = name
	if e.children == nil {
		e.children = make(map[string]*Engine)
	}
	e.children[name] = c
	return c, nil
}

// errNamedOnly is the error of an option that only NewCache understands.
var errNamedOnly = errors.New("applies to NewCache only")

// checkNamed rejects, for NewCache, the options that make an engine dial
// a Redis client of its own: a cache uses its engine's client or one
// given with WithRedis, and owns none, so start would otherwise run it
// on the engine's client, or on none, whatever the URL said.
func (c *config) checkNamed() error {
	if c.redisURL == "" {
		return nil
	}
	option := "FromEnv"
	if c.failover != nil {
		option = "WithSentinel"
	}
	return &OptionError{Option: option, Reason: "dials a Redis client, which only New does: give NewCache WithRedis, or nothing to use the engine's"}
}

// forget removes a closed named cache.
func (e *Engine) forget(c *Engine) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.children[c.name] == c {
		delete(e.children, c.name)
	}
}
