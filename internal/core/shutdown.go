package core

import (
	"context"
	"fmt"
)

// AwaitLoaders waits for loader goroutines to return, or for ctx to end:
// a loader that ignores its context must not hold Shutdown past its
// caller's deadline. Call it only once no new load can start. A ctx that
// ended before the wait (a slow step of Shutdown used it up) still yields
// nil when every loader has returned (see Group).
func (env *Env) AwaitLoaders(ctx context.Context) error {
	if env.loaders.Wait(ctx) {
		return nil
	}
	env.Logger.Warn("slotcache: loaders still running at shutdown")
	return fmt.Errorf("slotcache: loaders still running at shutdown: %w", ctx.Err())
}
