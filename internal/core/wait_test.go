package core

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A Shutdown whose context has already ended (a slow step before used it
// up) must still report that no loader was left behind when none was: Wait
// alone, with both its channels ready, picked either, and Close reported
// "loaders still running" for loaders that had all returned.
func TestAwaitLoadersPastTheDeadlineWithNoneRunning(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	env := newWaitEnv(t)
	env.LoaderStarted()
	env.LoaderReturned()
	for range 200 {
		require.NoError(t, env.AwaitLoaders(ctx), "no loader is running")
	}
	// A fresh env: a WaitGroup must not be reused while the waits above
	// may still be returning.
	env = newWaitEnv(t)
	env.LoaderStarted()
	require.ErrorIs(t, env.AwaitLoaders(ctx), context.Canceled, "a loader is still running")
	env.LoaderReturned()
}

func newWaitEnv(t *testing.T) *Env {
	dir, _ := NewDirectory()
	env := NewEnv(EnvConfig{Ctx: t.Context(), Clock: NewClock(), TTL: time.Minute, LoadTimeout: time.Second, Logger: slog.New(slog.DiscardHandler)}, dir)
	t.Cleanup(env.Clock.Stop)
	return env
}
