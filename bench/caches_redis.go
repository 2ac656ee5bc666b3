package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	gocache "github.com/go-redis/cache/v9"
	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"

	"github.com/slotcache/slotcache"
)

// readyTimeout bounds the wait for a Redis subscription to be confirmed.
const readyTimeout = 5 * time.Second

// slotcacheRedisAdapter is a slotcache engine linked to Redis through its
// own go-redis client on a throwaway channel: Invalidate drops locally and
// publishes.
type slotcacheRedisAdapter struct {
	*slotcacheAdapter
	client *redis.Client
}

func newSlotcacheRedis(h *harness, s spec) (Cache, error) {
	return newSlotcacheOnChannel(h, s, "slotcache:bench:"+rand.Text())
}

// newSlotcacheOnChannel returns an engine on channel, once Redis has
// confirmed its subscription.
func newSlotcacheOnChannel(h *harness, s spec, channel string) (*slotcacheRedisAdapter, error) {
	client, err := h.goRedis()
	if err != nil {
		return nil, err
	}
	a, err := newSlotcacheWith(s, slotcache.WithRedis(client), slotcache.WithChannel(channel))
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	if err := a.e.WaitReady(ctx); err != nil {
		a.Close()
		_ = client.Close()
		return nil, fmt.Errorf("slotcache: subscription not confirmed: %w", err)
	}
	return &slotcacheRedisAdapter{slotcacheAdapter: a, client: client}, nil
}

func (a *slotcacheRedisAdapter) Close() {
	a.slotcacheAdapter.Close()
	_ = a.client.Close()
}

// goRedisCacheAdapter is go-redis/cache: a local TinyLFU in front of Redis,
// read through Once (local singleflight). Values are msgpack-encoded.
// Invalidate deletes the local copy and the Redis key; other instances'
// local copies stay until their TTL.
type goRedisCacheAdapter struct {
	c      *gocache.Cache
	client *redis.Client
	load   Loader
	ttl    time.Duration
}

func newGoRedisCache(h *harness, s spec) (Cache, error) {
	client, err := h.goRedis()
	if err != nil {
		return nil, err
	}
	c := gocache.New(&gocache.Options{Redis: client, LocalCache: gocache.NewTinyLFU(s.Size, s.TTL)})
	return &goRedisCacheAdapter{c: c, client: client, load: s.Load, ttl: s.TTL}, nil
}

func (a *goRedisCacheAdapter) Get(ctx context.Context, key string) (string, error) {
	var v string
	err := a.c.Once(&gocache.Item{
		Ctx:   ctx,
		Key:   key,
		Value: &v,
		TTL:   a.ttl,
		Do:    func(it *gocache.Item) (any, error) { return a.load(it.Ctx, it.Key) },
	})
	return v, err
}

func (a *goRedisCacheAdapter) Invalidate(ctx context.Context, key string) error {
	return a.c.Delete(ctx, key)
}

func (a *goRedisCacheAdapter) Close() {
	if a.client != nil {
		_ = a.client.Close()
	}
}

// rueidisAdapter is rueidis with server-assisted client-side caching
// (RESP3 CLIENT TRACKING): DoCache(GET) answers from the local cache until
// Redis says the key changed. On a Redis miss it loads and SETs the key.
// Invalidate deletes the key, which makes Redis invalidate every client's
// local copy. It does not coalesce loads.
type rueidisAdapter struct {
	c    rueidis.Client
	load Loader
	ttl  time.Duration
}

func newRueidis(h *harness, s spec) (Cache, error) {
	c, err := h.rueidis()
	if err != nil {
		return nil, err
	}
	return &rueidisAdapter{c: c, load: s.Load, ttl: s.TTL}, nil
}

func (a *rueidisAdapter) Get(ctx context.Context, key string) (string, error) {
	v, err := a.c.DoCache(ctx, a.c.B().Get().Key(key).Cache(), a.ttl).ToString()
	if err == nil || !rueidis.IsRedisNil(err) {
		return v, err
	}
	if v, err = a.load(ctx, key); err != nil {
		return "", err
	}
	return v, a.c.Do(ctx, a.c.B().Set().Key(key).Value(v).Px(a.ttl).Build()).Error()
}

func (a *rueidisAdapter) Invalidate(ctx context.Context, key string) error {
	return a.c.Do(ctx, a.c.B().Del().Key(key).Build()).Error()
}

func (a *rueidisAdapter) Close() { a.c.Close() }

// goRedis returns a new go-redis client for the run's Redis.
func (h *harness) goRedis() (*redis.Client, error) {
	if h.redisURL == "" {
		return nil, errNoRedis
	}
	opts, err := redis.ParseURL(h.redisURL)
	if err != nil {
		return nil, err
	}
	return redis.NewClient(opts), nil
}

// rueidis returns a new rueidis client, with client-side caching, for the
// run's Redis.
func (h *harness) rueidis() (rueidis.Client, error) {
	if h.redisURL == "" {
		return nil, errNoRedis
	}
	opts, err := rueidis.ParseURL(h.redisURL)
	if err != nil {
		return nil, err
	}
	c, err := rueidis.NewClient(opts)
	if err != nil {
		return nil, errors.Join(errors.New("rueidis"), err)
	}
	return c, nil
}

// newGoRedisCacheLocal is go-redis/cache without Redis: its local TinyLFU
// tier alone, for the memory and hit-ratio cases.
func newGoRedisCacheLocal(_ *harness, s spec) (Cache, error) {
	c := gocache.New(&gocache.Options{LocalCache: gocache.NewTinyLFU(s.Size, s.TTL)})
	return &goRedisCacheAdapter{c: c, load: s.Load, ttl: s.TTL}, nil
}
