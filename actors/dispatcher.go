package actors

import (
	"runtime"
	"sync"
)

// Workers is the dispatcher of an engine's actors: it runs a mailbox that
// has messages on one of a few long-lived goroutines instead of a new
// goroutine each time. protoactor's default dispatcher starts a goroutine
// per run of a mailbox, several per miss here; each starts with a small
// stack that the actor's call chain outgrows, and the stack copies took
// 40% of a cold miss's CPU in the profile. A worker's stack has grown once.
// When every worker is busy, a run gets its own goroutine as before, so
// no mailbox ever waits for another.
type Workers struct {
	work       chan func()
	quit       chan struct{}
	wg         sync.WaitGroup
	throughput int
}

// NewWorkers starts the workers: two per processor, enough to keep every
// processor busy while a worker is being handed its next run.
func NewWorkers() *Workers {
	w := &Workers{work: make(chan func()), quit: make(chan struct{}), throughput: 300}
	n := max(4, 2*runtime.GOMAXPROCS(0))
	w.wg.Add(n)
	for range n {
		go w.loop()
	}
	return w
}

func (w *Workers) loop() {
	defer w.wg.Done()
	for {
		select {
		case fn := <-w.work:
			fn()
		case <-w.quit:
			return
		}
	}
}

// Schedule implements actor.Dispatcher: fn runs on an idle worker, or on a
// goroutine of its own if none is idle.
func (w *Workers) Schedule(fn func()) {
	select {
	case w.work <- fn:
	default:
		go fn()
	}
}

// Throughput implements actor.Dispatcher: how many messages a mailbox
// handles before it yields (protoactor's default).
func (w *Workers) Throughput() int { return w.throughput }

// Stop ends the workers once they finish what they run. Mailboxes
// scheduled afterwards get goroutines of their own.
func (w *Workers) Stop() {
	close(w.quit)
	w.wg.Wait()
}

// inline is the dispatcher of slot actors: a slot's mailbox runs on the
// goroutine of whoever sent it a message while it was idle (the caller of
// a Get, the loader reporting its result, the router binding it), instead
// of being handed to another goroutine. A slot actor never blocks (loads
// run on their own goroutines) and never sends to itself through another
// actor, so running it in place is safe, and a miss then costs two
// goroutine switches (the loader's start and the caller's wake-up) instead
// of four. The mailbox still runs one message at a time: a sender that
// finds it running only queues its message, and the running goroutine
// handles it before it returns. Senders must not hold a lock that the
// slot's handling may take (see idleQueue.tickDue).
type inline struct{}

// Schedule implements actor.Dispatcher.
func (inline) Schedule(fn func()) { fn() }

// Throughput implements actor.Dispatcher.
func (inline) Throughput() int { return 300 }
