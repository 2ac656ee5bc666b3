package actors

import (
	"context"
	"runtime"
	"time"

	"github.com/slotcache/slotcache/internal/core"
)

// workerIdle is how long a worker waits for its next run before it exits,
// so that an idle engine holds no worker goroutine.
const workerIdle = time.Second

// Workers run an engine's loads, and the router's messages that its
// senders leave it (see callerMailbox), on long-lived goroutines instead
// of a new goroutine each time. A fresh goroutine starts with a small
// stack that the actor's call chain (a load reports back by running its
// slot's actor in place) outgrows: with a goroutine per load and per
// router run, the stack copies took 40% of a cold miss's CPU in the
// profile. A worker's stack has grown once. Workers start on demand, up to
// maxWorkers (loads may block on I/O, so more than the processors); past
// that, a run gets its own goroutine as before, so nothing ever waits for
// a worker. A worker idle for workerIdle exits.
type Workers struct {
	work    chan task
	quit    chan struct{}
	running core.Group // the workers
	max     int64
	idle    time.Duration // workerIdle; shorter in tests
}

// maxWorkers bounds the workers: eight per processor, at least 32.
func maxWorkers() int64 { return int64(max(32, 8*runtime.GOMAXPROCS(0))) }

// NewWorkers returns workers that start on demand.
func NewWorkers() *Workers {
	return &Workers{
		work: make(chan task),
		quit: make(chan struct{}),
		max:  maxWorkers(),
		idle: workerIdle,
	}
}

// task is a unit of work for a worker. A load is a task by itself (see
// flight.run), so that scheduling it allocates no closure.
type task interface{ run() }

// funcTask makes a func a task; a func is a pointer, so the conversion
// allocates nothing.
type funcTask func()

func (f funcTask) run() { f() }

// run runs t on an idle worker, on a new worker if there is room for one,
// or on a goroutine of its own.
func (w *Workers) run(t task) {
	select {
	case w.work <- t:
		return
	default:
	}
	if w.running.Add() <= w.max {
		go w.loop(t)
		return
	}
	w.running.Done()
	go t.run()
}

// loop runs t, then whatever is scheduled next, until it has waited
// w.idle for work or the workers stop.
func (w *Workers) loop(t task) {
	defer w.running.Done()
	idle := time.NewTimer(w.idle)
	defer idle.Stop()
	for {
		t.run()
		idle.Reset(w.idle)
		select {
		case t = <-w.work:
		case <-idle.C:
			return
		case <-w.quit:
			return
		}
	}
}

// Stop ends the workers once they finish what they run, waiting for them
// until ctx ends: a worker running a loader that ignores its context is
// left behind, as Shutdown leaves such loaders. Runs scheduled afterwards
// get goroutines of their own.
func (w *Workers) Stop(ctx context.Context) {
	close(w.quit)
	w.running.Wait(ctx)
}
