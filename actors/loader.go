package actors

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/slotcache/slotcache/internal/core"
)

// run implements task: a worker runs the flight's load.
func (f *flight) run() { runLoader(f, f.slotID, f.load) }

// runLoader runs flight f's load in its own goroutine, so the slot actor
// never blocks, and reports the outcome by sending f back to the slot. A
// panic in a plain goroutine would kill the process, so it is recovered
// here, with its stack, and reported; a loader that calls runtime.Goexit is
// reported as an error rather than as a nil value.
func runLoader(f *flight, slotID string, load core.Loader) {
	env := f.env
	defer env.LoaderReturned()
	ctx, span := env.Observe.Start(f, core.OpLoad, slotID) // ctx is f itself without an Observer
	returned := false
	defer func() {
		if r := recover(); r != nil {
			f.panic = &core.PanicError{Slot: slotID, Value: r, Stack: debug.Stack()}
			f.result = core.FillResult{Err: f.panic}
		} else if !returned {
			f.result = core.FillResult{Err: fmt.Errorf("slotcache: loader of slot %q exited without returning", slotID)}
		}
		span.End("", f.result.Err)
		env.Root.Send(f.self, f)
	}()
	if env.Filler != nil {
		counted := func(ctx context.Context, id string) (any, error) {
			env.Stats.Loads.Add(1)
			return load(ctx, id)
		}
		f.result = env.Filler.Load(ctx, slotID, counted, shareFor(f))
	} else {
		env.Stats.Loads.Add(1)
		v, err := load(ctx, slotID)
		f.result = core.FillResult{Value: v, Err: err}
	}
	returned = true
}
