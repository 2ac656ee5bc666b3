package slotcache

import (
	"errors"
	"fmt"
)

// Cache returns a new named cache: an Engine with its own TTL, size limit,
// behaviours, invalidation channel and Stats, that shares this engine's
// actor system, clock and Redis client. Services run several caches side by
// side (provider configs, channel activations, autocomplete...); named
// caches cost one router actor and one subscription each instead of a
// whole engine.
//
// A named cache starts from this engine's TTL, timeouts, logger, origin and
// Redis client, on the channel "<this channel>:<name>"; behaviours, size
// limit and fill coordination are not inherited. opts change any of it.
// Closing this engine closes its named caches; a named cache can also be
// closed on its own. Names are unique per engine while their cache is open.
func (e *Engine) Cache(name string, opts ...Option) (*Engine, error) {
	if name == "" {
		return nil, errors.New("slotcache: Cache: name is empty")
	}
	if e.parent != nil {
		return nil, fmt.Errorf("slotcache: Cache(%q): named caches are made from the engine New returned", name)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed.Load() {
		return nil, ErrClosed
	}
	if _, ok := e.children[name]; ok {
		return nil, fmt.Errorf("slotcache: Cache(%q): a cache with this name is already open", name)
	}
	base := e.cfg
	base.channel = e.cfg.channel + ":" + name
	base.redis, base.redisURL = e.client, "" // share the client, whoever dialled it
	base.behaviour, base.rules, base.maxSlots, base.fill = nil, nil, 0, nil
	cfg, err := configure(base, opts)
	if err != nil {
		return nil, fmt.Errorf("slotcache: Cache(%q): %w", name, err)
	}
	c := start(cfg, e.system, e.env.Clock, e.workers, e)
	c.name = name
	c.observe.Cache = name
	if e.children == nil {
		e.children = make(map[string]*Engine)
	}
	e.children[name] = c
	return c, nil
}

// Name returns the name of a cache made by Cache, or "" for an engine made
// by New.
func (e *Engine) Name() string { return e.name }

// forget removes a closed named cache.
func (e *Engine) forget(c *Engine) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.children[c.name] == c {
		delete(e.children, c.name)
	}
}
