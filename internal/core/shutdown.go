package core

import (
	"context"
	"fmt"
)

// AwaitLoaders waits for loader goroutines to return, or for ctx to end:
// a loader that ignores its context must not hold Shutdown past its
// caller's deadline. Call it only once no new load can start.
func (env *Env) AwaitLoaders(ctx context.Context) error {
	if Wait(ctx, &env.loaders) {
		return nil
	}
	env.Logger.Warn("slotcache: loaders still running at shutdown")
	return fmt.Errorf("slotcache: loaders still running at shutdown: %w", ctx.Err())
}
