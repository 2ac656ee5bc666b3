package core

import (
	"context"
	"sync"
	"sync/atomic"
)

// Group counts goroutines that a shutdown waits for but cannot interrupt
// (a loader that ignores its context, the worker running it), so that the
// wait can end at its caller's deadline. It is a WaitGroup whose count can
// be read: a wait whose ctx had already ended still tells whether any
// goroutine is left, where a select on the WaitGroup and on ctx, with both
// ready, picks either.
type Group struct {
	wg sync.WaitGroup
	n  atomic.Int64
}

// Add counts one more goroutine and returns how many are counted now.
func (g *Group) Add() int64 {
	g.wg.Add(1)
	return g.n.Add(1)
}

// Done counts one goroutine less.
func (g *Group) Done() {
	g.n.Add(-1)
	g.wg.Done()
}

// Len is how many goroutines are counted.
func (g *Group) Len() int64 { return g.n.Load() }

// Wait waits until no goroutine is counted, or for ctx to end, and
// reports whether none is. The goroutine it leaves waiting when ctx ends
// first ends with the last of them.
func (g *Group) Wait(ctx context.Context) bool {
	done := make(chan struct{})
	go func() {
		g.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return g.Len() == 0
	}
}
