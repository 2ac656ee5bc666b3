package slotcache

import (
	"context"
	"fmt"

	"github.com/slotcache/slotcache/bridge"
)

// ErrQueued is wrapped by the error of an Invalidate or InvalidateAll whose
// publish Redis did not take within the publish timeout: the local drop has
// happened, and the invalidation waits in the engine's outbox (coalesced
// per slot, bounded) until Redis answers again, then is published before
// anything newer. Stats count queued, retried and dropped ones.
var ErrQueued = bridge.ErrQueued

// publishInvalidation tells the other instances that slotID (bridge.All for
// every slot) changed: the shared fill copy goes first, if fill
// coordination is on (see prepareSub), then the publish; if either fails,
// both are retried from the outbox. It waits at most the publish timeout.
// Without Redis there is nobody to tell (and no fill: it needs Redis).
func (e *Engine) publishInvalidation(ctx context.Context, slotID string) error {
	if e.sub == nil {
		return nil
	}
	return e.sub.Publish(ctx, slotID)
}

// prepareSub makes every publish of this engine's invalidations, first or
// from the outbox, drop the shared fill copy before it: another instance
// must not reload the old value from the shared tier after hearing of the
// invalidation.
func (e *Engine) prepareSub() {
	if e.sub != nil && e.env.Filler != nil {
		e.sub.SetPrepare(e.dropShared)
	}
}

func (e *Engine) dropShared(ctx context.Context, slotID string) error {
	if err := e.env.Filler.Drop(ctx, slotID); err != nil {
		return fmt.Errorf("slotcache: drop shared copy of %q: %w", slotID, err)
	}
	return nil
}
