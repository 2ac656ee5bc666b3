package fill

import (
	"context"

	"github.com/slotcache/slotcache/internal/core"
)

// observe starts op for m and returns what ends it with m's outcome and
// error, so that a coordinator step is observed with one deferred line:
//
//	defer c.observe(&ctx, core.OpFillWait, m).end()
//
// ctx is replaced by the operation's context, so that the loads run inside
// a lease or after a wait hang under its span. A coordinator without an
// engine (Config.Observe nil) observes nothing. The result is a value, not
// a closure, so observing allocates nothing of its own.
func (c *Coordinator) observe(ctx *context.Context, op string, m *miss) observed {
	var o observed
	*ctx, o.span = c.cfg.Observe.Start(*ctx, op, m.slot)
	o.m = m
	return o
}

// observed is a coordinator step in progress.
type observed struct {
	span core.Span
	m    *miss
}

// end ends the step with its miss's outcome and error.
func (o observed) end() { o.span.End(o.m.outcome.String(), o.m.err) }
