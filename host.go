package slotcache

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/redis/go-redis/v9"

	"github.com/slotcache/slotcache/actors"
	"github.com/slotcache/slotcache/internal/core"
)

// host is what an Engine owns and its named caches share: the actor system
// that runs their actors, the workers it runs them on, the coarse clock,
// and the Redis client when New dialled it. Exactly one Engine owns a host
// (its own field); its named caches only use it (their host field), so
// nothing but the owner can stop it.
type host struct {
	system  *actor.ActorSystem
	workers *actors.Workers
	clock   *core.Clock
	client  redis.UniversalClient // nil without Redis
	dialled bool                  // New dialled client, so the owner closes it
}

// newHost starts the machinery of an engine configured by cfg. It never
// waits for Redis: dialling a client does no I/O.
func newHost(cfg config) *host {
	actorLog := slog.New(minLevel{cfg.logger.Handler(), slog.LevelWarn})
	h := &host{
		system: actor.NewActorSystem(
			actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return actorLog }),
			// Messages to actors that just passivated, or to any after
			// Close, are expected dead letters. protoactor's log throttle
			// holds a goroutine for one interval after each burst; keep it
			// short so that Close leaves nothing running for long.
			actor.WithDeadLetterThrottleInterval(time.Millisecond),
		),
		workers: actors.NewWorkers(),
		clock:   core.NewClock(),
		client:  cfg.redis,
	}
	if cfg.redisURL != "" { // checked by FromEnv
		h.client, h.dialled = cfg.dialRedis(), true // see fromenv.go
	}
	return h
}

// close stops what newHost started, once every actor on it has stopped,
// waiting for busy workers until ctx ends.
func (h *host) close(ctx context.Context) error {
	h.clock.Stop()
	h.system.Shutdown()
	h.workers.Stop(ctx)
	if h.dialled {
		if err := h.client.Close(); err != nil {
			return fmt.Errorf("slotcache: closing the Redis client: %w", err)
		}
	}
	return nil
}
