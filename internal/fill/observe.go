package fill

import (
	"context"

	"github.com/slotcache/slotcache/internal/core"
)

// observe starts op for m and returns what ends it with m's outcome and
// error, so that a coordinator step is observed with one deferred line:
//
//	defer c.observe(&ctx, core.OpFillWait, m)()
//
// ctx is replaced by the operation's context, so that the loads run inside
// a lease or after a wait hang under its span. A coordinator without an
// engine (Config.Observe nil) observes nothing.
func (c *Coordinator) observe(ctx *context.Context, op string, m *miss) func() {
	var span core.Span
	*ctx, span = c.cfg.Observe.Start(*ctx, op, m.slot)
	return func() { span.End(m.outcome.String(), m.err) }
}
