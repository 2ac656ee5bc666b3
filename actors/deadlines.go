package actors

import (
	"context"
	"sync"
	"time"
)

// deadlines times out an engine's loads with one timer instead of one per
// load: a time.AfterFunc per load cost an allocation and two operations on
// the runtime's timer heap, a tenth of a miss. Every load of an engine has
// the same timeout, so loads reach their deadlines in the order they
// started: they wait in a list in that order, a load leaves it in O(1)
// when it ends, and the timer is armed for the head. The timer is not
// moved when the head leaves early; it fires for nothing and is armed for
// the new head, so a stream of quick loads costs about one timer operation
// per timeout period, not two per load.
type deadlines struct {
	mu         sync.Mutex
	head, tail *flight
	timer      *time.Timer
	armed      time.Time // when the timer fires; zero when it is not armed
	stopped    bool
}

func newDeadlines() *deadlines {
	d := &deadlines{}
	d.timer = time.AfterFunc(time.Hour, d.fire)
	d.timer.Stop()
	return d
}

// add lists f until it ends (remove) or its deadline passes, when its
// slot hears of the timeout.
func (d *deadlines) add(f *flight) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f.listed, f.prev, f.next = true, d.tail, nil
	if d.tail != nil {
		d.tail.next = f
	} else {
		d.head = f
	}
	d.tail = f
	if d.armed.IsZero() && !d.stopped {
		d.arm(f.deadline)
	}
}

// remove takes f off the list, if it is still there.
func (d *deadlines) remove(f *flight) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.unlink(f)
}

func (d *deadlines) unlink(f *flight) {
	if !f.listed {
		return
	}
	if f.prev != nil {
		f.prev.next = f.next
	} else {
		d.head = f.next
	}
	if f.next != nil {
		f.next.prev = f.prev
	} else {
		d.tail = f.prev
	}
	f.listed, f.prev, f.next = false, nil, nil
}

// arm sets the timer for at. Caller holds mu.
func (d *deadlines) arm(at time.Time) {
	d.armed = at
	d.timer.Reset(time.Until(at))
}

// fire times out the loads whose deadline has passed and arms the timer
// for the next one. The slots hear of it outside the lock: a slot running
// in place ends the flight, which calls remove.
func (d *deadlines) fire() {
	now := time.Now()
	var due []*flight
	d.mu.Lock()
	d.armed = time.Time{}
	for f := d.head; f != nil && !f.deadline.After(now); f = d.head {
		d.unlink(f)
		due = append(due, f)
	}
	if d.head != nil && !d.stopped {
		d.arm(d.head.deadline)
	}
	d.mu.Unlock()
	for _, f := range due {
		f.timedOut()
	}
}

// stop disarms the timer for good: the router is stopping and its slots
// end their loads themselves.
func (d *deadlines) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopped = true
	d.timer.Stop()
}

// timedOut cancels the load and tells the slot.
func (f *flight) timedOut() {
	f.cancel(context.DeadlineExceeded)
	f.env.Root.Send(f.self, (*flightTimeout)(f))
}
