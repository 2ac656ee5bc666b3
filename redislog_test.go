package slotcache

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRedisLogRoutesGoRedisLines: with the documented one-liner, a line
// go-redis logs itself (a failed dial) arrives in the slog handler at Warn,
// structured, instead of on stderr.
func TestRedisLogRoutesGoRedisLines(t *testing.T) {
	var buf syncBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	redis.SetLogger(RedisLog{Logger: logger})
	t.Cleanup(func() { redis.SetLogger(RedisLog{}) }) // no stderr chatter from later tests either

	// A loopback port nobody listens on: go-redis fails to dial and says so.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	client := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	require.Error(t, client.Ping(ctx).Err())

	require.Eventually(t, func() bool { return strings.Contains(buf.String(), "failed to dial") }, wait, 5*time.Millisecond)
	line := buf.String()
	assert.Contains(t, line, `"level":"WARN"`)
	assert.Contains(t, line, `"component":"go-redis"`)
	assert.NotContains(t, line, `"msg":"redis: `, "the redundant prefix is dropped")
}

func TestRedisLogWithoutLoggerDiscards(t *testing.T) {
	RedisLog{}.Printf(context.Background(), "redis: %s", "nothing") // must not panic
}
