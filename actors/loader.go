package actors

import (
	"context"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/slotcache/slotcache/internal/core"
	"github.com/slotcache/slotcache/messages"
)

// runLoader runs one shared load in its own goroutine, so the slot actor
// never blocks, and reports the outcome to the slot as a LoadDone. A panic in
// a plain goroutine would kill the process, so it is recovered here and
// reported; a loader that calls runtime.Goexit is reported as an error
// rather than as a nil value.
func runLoader(ctx context.Context, env *core.Env, slot *actor.PID, flight uint64, slotID string, load messages.Loader) {
	defer env.LoaderReturned()
	ctx, span := env.Observe.Start(ctx, core.OpLoad, slotID)
	done := &messages.LoadDone{Flight: flight}
	returned := false
	defer func() {
		if r := recover(); r != nil {
			done.Value, done.Panic = nil, r
			done.Err = fmt.Errorf("%w: slot %q: %v", core.ErrLoaderPanic, slotID, r)
		} else if !returned {
			done.Value = nil
			done.Err = fmt.Errorf("slotcache: loader of slot %q exited without returning", slotID)
		}
		span.End("", done.Err)
		env.Root.Send(slot, done)
	}()
	if env.Filler != nil {
		done.Value, done.TTL, done.Err = env.Filler.Load(ctx, slotID, load)
	} else {
		done.Value, done.Err = load(ctx, slotID)
	}
	returned = true
}
