package actors

import (
	"context"
	"sync"
	"time"
)

// loadCtx is the context a loader runs under: the values of the caller
// that started the load, without its cancellation (as with
// context.WithoutCancel), and a deadline at the load timeout. It is
// cancelled by its flight, at the timeout or when the slot's actor stops
// (Close), with no registration in any parent context: a miss would
// otherwise pay a WithoutCancel, a WithTimeout and an AfterFunc, eight
// allocations and a lock on the engine's context, for what one small
// struct and one timer do.
//
// A context derived from it by a loader is correct too: the context
// package sees that its Done channel is not the caller's and propagates
// its cancellation on its own.
type loadCtx struct {
	values   context.Context // the first caller's, for Value only
	deadline time.Time

	mu   sync.Mutex
	done chan struct{} // made on first use
	err  error
}

// closedDone is the Done channel of a context cancelled before anyone
// asked for it.
var closedDone = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

func (c *loadCtx) init(caller context.Context, timeout time.Duration) {
	if caller == nil {
		caller = context.Background()
	}
	c.values = caller
	c.deadline = time.Now().Add(timeout)
}

// Deadline implements context.Context.
func (c *loadCtx) Deadline() (time.Time, bool) { return c.deadline, true }

// Done implements context.Context.
func (c *loadCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		if c.err != nil {
			c.done = closedDone
		} else {
			c.done = make(chan struct{})
		}
	}
	return c.done
}

// Err implements context.Context.
func (c *loadCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Value implements context.Context: the caller's values.
func (c *loadCtx) Value(key any) any { return c.values.Value(key) }

// cancel ends the context with err; later calls do nothing.
func (c *loadCtx) cancel(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	c.err = err
	if c.done != nil {
		close(c.done)
	}
}
