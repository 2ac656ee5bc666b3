package actors

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/slotcache/slotcache/internal/core"
)

// loadDone reports the end of the loader goroutine of flight flight. panic
// is set when the loader panicked; result.Err is then the same error.
type loadDone struct {
	flight uint64
	result core.FillResult
	panic  *core.PanicError
}

// loadTimedOut tells a slot that flight ran past the load timeout or that
// the engine closed while it ran.
type loadTimedOut struct {
	flight uint64
	cause  error
}

// runLoader runs one shared load in its own goroutine, so the slot actor
// never blocks, and reports the outcome to the slot as a loadDone. A panic
// in a plain goroutine would kill the process, so it is recovered here,
// with its stack, and reported; a loader that calls runtime.Goexit is
// reported as an error rather than as a nil value.
func runLoader(ctx context.Context, env *core.Env, slot *actor.PID, flight uint64, slotID string, load core.Loader) {
	defer env.LoaderReturned()
	ctx, span := env.Observe.Start(ctx, core.OpLoad, slotID)
	done := &loadDone{flight: flight}
	returned := false
	defer func() {
		if r := recover(); r != nil {
			done.panic = &core.PanicError{Slot: slotID, Value: r, Stack: debug.Stack()}
			done.result = core.FillResult{Err: done.panic}
		} else if !returned {
			done.result = core.FillResult{Err: fmt.Errorf("slotcache: loader of slot %q exited without returning", slotID)}
		}
		span.End("", done.result.Err)
		env.Root.Send(slot, done)
	}()
	if env.Filler != nil {
		counted := func(ctx context.Context, id string) (any, error) {
			env.Stats.Loads.Add(1)
			return load(ctx, id)
		}
		done.result = env.Filler.Load(ctx, slotID, counted, shareFor(ctx, env, slot, flight))
	} else {
		env.Stats.Loads.Add(1)
		v, err := load(ctx, slotID)
		done.result = core.FillResult{Value: v, Err: err}
	}
	returned = true
}

// shareFor returns the question a fill leader asks its slot before it
// commits: the slot's actor runs the behaviour, once for the load, and the
// leader shares the value for the TTL it decided.
func shareFor(ctx context.Context, env *core.Env, slot *actor.PID, flight uint64) core.Decide {
	return func(value any) time.Duration {
		reply := make(chan time.Duration, 1)
		env.Root.Send(slot, &shareDecision{flight: flight, value: value, reply: reply})
		select {
		case d := <-reply:
			return d
		case <-ctx.Done():
			return 0
		}
	}
}
