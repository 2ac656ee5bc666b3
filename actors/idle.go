package actors

import (
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/slotcache/slotcache/internal/core"
)

// idleQueue lists the slot actors that became idle, oldest first, so that
// one goroutine can tell each, once it has been idle for PassivateAfter,
// to give its slot up. A timer per actor cost a timer reset per load and a
// goroutine per expiry; an actor joins the queue with a lock and an
// append. Actors join in the order they become idle, so the due ones are
// always at the head.
type idleQueue struct {
	after time.Duration
	clock *core.Clock
	root  *actor.RootContext
	run   *Workers // send the ticks

	mu    sync.Mutex
	items []idleItem
	head  int
	wake  chan struct{} // a send when the queue stops being empty
}

type idleItem struct {
	pid   *actor.PID
	since int64
}

func newIdleQueue(env *core.Env, w *Workers) *idleQueue {
	return &idleQueue{after: env.PassivateAfter, clock: env.Clock, root: env.Root, run: w, wake: make(chan struct{}, 1)}
}

// push queues pid, idle since since. An actor that finds it must wait
// longer is queued again behind younger ones: it may then give its slot up
// up to PassivateAfter late, never early.
func (q *idleQueue) push(pid *actor.PID, since int64) {
	q.mu.Lock()
	if q.head > 1024 && 2*q.head > len(q.items) { // reuse the popped front
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	q.items = append(q.items, idleItem{pid: pid, since: since})
	first := len(q.items)-q.head == 1
	q.mu.Unlock()
	if first {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}

// tickDue has a worker send tick to every actor idle for PassivateAfter
// by now, and reports how long until the next one is due, or 0 if none is
// queued. A tick may run its slot actor on the sender's goroutine (see
// callerMailbox), and that actor the router, whose Stopping waits for the
// goroutine that calls tickDue: that goroutine must never be the sender.
// The ticks are sent after the lock is released, as a slot actor may queue
// itself again.
func (q *idleQueue) tickDue() time.Duration {
	var ticks tickTask
	next := q.popDue(q.clock.Now(), int64(q.after), &ticks.pids)
	if len(ticks.pids) > 0 {
		ticks.root = q.root
		q.run.run(&ticks)
	}
	return next
}

// tickTask sends tick to each of pids.
type tickTask struct {
	root *actor.RootContext
	pids []*actor.PID
}

func (t *tickTask) run() {
	for _, pid := range t.pids {
		t.root.Send(pid, tick)
	}
}

// popDue removes the actors due by now from the queue into ticks and
// reports how long until the next one is due, 0 if none is left.
func (q *idleQueue) popDue(now, due int64, ticks *[]*actor.PID) time.Duration {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.head < len(q.items) {
		it := q.items[q.head]
		if wait := it.since + due - now; wait > 0 {
			return time.Duration(wait)
		}
		*ticks = append(*ticks, it.pid)
		q.items[q.head] = idleItem{}
		q.head++
	}
	if cap(q.items) > 1024 {
		q.items = nil // let a burst's backing array go
	} else {
		q.items = q.items[:0]
	}
	q.head = 0
	return 0
}

// next ticks the due actors and arms t for the next one, if any: the
// router's background goroutine calls it when the queue wakes it or t
// fires, so an engine whose actors are all busy or passivated pays nothing
// for the queue.
func (q *idleQueue) next(t *time.Timer) {
	if d := q.tickDue(); d > 0 {
		t.Reset(max(d, time.Millisecond))
	}
}
