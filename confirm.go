package slotcache

import (
	"context"
	"time"

	"github.com/slotcache/slotcache/bridge"
)

// ErrUnconfirmed is wrapped by the error of InvalidateConfirmed when not
// every instance answered before its context ended; the message says how
// many did not.
var ErrUnconfirmed = bridge.ErrUnconfirmed

// DefaultConfirmWait bounds InvalidateConfirmed when its context has no
// deadline.
const DefaultConfirmWait = 5 * time.Second

// InvalidateConfirmed is Invalidate that returns once every instance
// subscribed to the channel has applied the invalidation: from then on, a
// Get on any of them misses slotID and loads it again (read-your-writes
// across the fleet). It costs one more round trip than Invalidate: every
// instance answers on the writer's own ack channel.
//
// It fails with an error wrapping ErrUnconfirmed, naming how many did not
// answer, when ctx ends first (DefaultConfirmWait without a deadline); the
// invalidation itself is published regardless. Only slotcache instances
// answer: a subscriber running the seed's Node module, or any other
// program, counts as one that did not. If Redis does not take the publish,
// the error wraps ErrQueued as for Invalidate. On Redis Cluster, PUBLISH
// counts only the subscribers connected to the node that took it, so
// instances connected to other nodes are not waited for. Without Redis it
// is Invalidate.
func (e *Engine) InvalidateConfirmed(ctx context.Context, slotID string) error {
	return e.invalidate(ctx, slotID, e.publishConfirmed)
}

// InvalidateAllConfirmed is InvalidateAll that waits for every instance,
// as InvalidateConfirmed does.
func (e *Engine) InvalidateAllConfirmed(ctx context.Context) error {
	return e.invalidateAll(ctx, e.publishConfirmed)
}

// publishConfirmed is publishInvalidation that waits for every instance's
// answer, at most DefaultConfirmWait unless ctx has a deadline.
func (e *Engine) publishConfirmed(ctx context.Context, slotID string) error {
	if e.sub == nil {
		return nil // without Redis: Invalidate
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultConfirmWait)
		defer cancel()
	}
	return e.sub.PublishConfirmed(ctx, slotID)
}
