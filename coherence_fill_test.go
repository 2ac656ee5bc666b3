package slotcache

// Coherence features combined with the shared fill tier (WithFill): the
// confirmed invalidation and the staleness bound, against a real
// redis-server per test. The rt, ft and lf helpers come from
// engine_redis_test.go, fill_test.go and lifecycle_fill_test.go.

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/internal/redistest"
)

// TestInvalidateConfirmedWithFillLeavesNoStaleValue is
// TestLifecycleFillInvalidateLeavesNoStaleValue for the confirmed
// invalidations: a Get on the writer while the shared copy is being deleted
// must not leave the old value cached once InvalidateConfirmed (or
// InvalidateAllConfirmed) has returned. The instance's own publish is
// skipped as an echo, so nothing would correct it before the TTL.
func TestInvalidateConfirmedWithFillLeavesNoStaleValue(t *testing.T) {
	for _, tc := range []struct {
		name       string
		invalidate func(*Engine) error
		held       func(channel string) func(redis.Cmder) bool
	}{
		{
			name:       "InvalidateConfirmed",
			invalidate: func(e *Engine) error { return e.InvalidateConfirmed(context.Background(), "s") },
			held: func(string) func(redis.Cmder) bool {
				return func(cmd redis.Cmder) bool { return cmd.Name() == "del" }
			},
		},
		{
			name:       "InvalidateAllConfirmed",
			invalidate: func(e *Engine) error { return e.InvalidateAllConfirmed(context.Background()) },
			held: func(channel string) func(redis.Cmder) bool {
				genKey := channel + ":fill:gen" // the namespace key under the default prefix
				return func(cmd redis.Cmder) bool {
					args := cmd.Args()
					return cmd.Name() == "set" && len(args) > 1 && args[1] == genKey
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t)
			ch := rtChannel(t)
			hold := lfNewHold(tc.held(ch))
			client := srv.Client(t)
			client.AddHook(hold)
			p := FillPolicy{OpTimeout: 2 * lfHoldMax}
			a := rtEngine(t, client, ch, WithFill(p))
			b := rtEngine(t, srv.Client(t), ch, WithFill(p))
			rtReady(t, a)
			rtReady(t, b)

			src := ftNewSource()
			for _, e := range []*Engine{a, b} {
				v, err := ftGet(t, e, "s", src.load)
				require.NoError(t, err)
				require.Equal(t, "v1", v)
			}

			src.version.Store(2)
			hold.armed.Store(true)
			invalidated := make(chan error, 1)
			go func() { invalidated <- tc.invalidate(a) }()
			hold.awaitEntered(t, tc.name+"'s deletion of the shared copy")
			// While the shared copy is being deleted: a Get on the writer,
			// which may return either value.
			require.NoError(t, await(t, getAsync(context.Background(), a, "s", src.load)).err)
			hold.open()
			select {
			case err := <-invalidated:
				require.NoError(t, err)
			case <-time.After(rtWait):
				t.Fatalf("%s did not return", tc.name)
			}

			// Confirmed: from now on, v2 everywhere, at once.
			for i, e := range []*Engine{a, b} {
				v, err := ftGet(t, e, "s", src.load)
				require.NoError(t, err)
				require.Equal(t, "v2", v, "Get on instance %d (0 wrote) returned %v after %s returned (the source holds v2)", i, v, tc.name)
			}
		})
	}
}
