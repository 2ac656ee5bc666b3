package slotcache

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// RedisLog routes go-redis's own log lines into a slog.Logger. go-redis
// prints unstructured lines to stderr ("redis: connection pool: failed to
// dial after 5 attempts: ..."), beside an application's structured logs and
// out of its log pipeline; one line at start-up sends them to the same
// handler as slotcache's own logs:
//
//	redis.SetLogger(slotcache.RedisLog{Logger: logger})
//
// go-redis's logger is process-wide, so this affects every client. Its
// lines carry no level and, at go-redis's default level, report only
// trouble (failed dials, dropped pub/sub messages, bad connections): they
// are logged at Warn, with component=go-redis.
type RedisLog struct {
	// Logger receives the lines; nil discards them.
	Logger *slog.Logger
}

// Printf implements go-redis's logger interface (redis.SetLogger).
func (r RedisLog) Printf(ctx context.Context, format string, v ...any) {
	if r.Logger == nil || !r.Logger.Enabled(ctx, slog.LevelWarn) {
		return
	}
	msg := strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: ")
	r.Logger.LogAttrs(ctx, slog.LevelWarn, msg, slog.String("component", "go-redis"))
}
