package fill

import (
	"math/rand/v2"
	"sync"
	"time"
)

// wakeups lets a notice ("slot X was filled, or its leader gave up") wake
// the followers of X in this process at once, so that a follower usually
// waits one Redis round trip after the commit instead of a poll interval.
// Notices are at most once, like all pub/sub: polling stays the fallback.
type wakeups struct {
	mu     sync.Mutex
	byslot map[string]*wakeup
	closed bool
}

// wakeup is closed when its slot is notified; the next watcher gets a new
// one.
type wakeup struct {
	ch   chan struct{}
	refs int
}

// watch returns a channel closed by the next fire(slotID), and a function
// to call when no longer watching. Watch before looking at Redis, so a
// notice that arrives between the look and the wait is not lost.
func (w *wakeups) watch(slotID string) (<-chan struct{}, func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		ch := make(chan struct{})
		close(ch)
		return ch, func() {}
	}
	if w.byslot == nil {
		w.byslot = make(map[string]*wakeup)
	}
	wu := w.byslot[slotID]
	if wu == nil {
		wu = &wakeup{ch: make(chan struct{})}
		w.byslot[slotID] = wu
	}
	wu.refs++
	return wu.ch, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		wu.refs--
		if wu.refs == 0 && w.byslot[slotID] == wu {
			delete(w.byslot, slotID)
		}
	}
}

// fire wakes the watchers of slotID. It is O(1) and never blocks, as the
// bridge's receiving goroutine requires.
func (w *wakeups) fire(slotID string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if wu := w.byslot[slotID]; wu != nil {
		close(wu.ch)
		delete(w.byslot, slotID)
	}
}

// close wakes every watcher, now and later.
func (w *wakeups) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	for id, wu := range w.byslot {
		close(wu.ch)
		delete(w.byslot, id)
	}
}

// backoff is a follower's poll schedule: each pause is drawn uniformly
// between PollMin and a ceiling that starts at 2·PollMin and doubles up to
// PollMax. Jitter spreads the polls of many followers; the growing ceiling
// keeps a long wait cheap for Redis.
type backoff struct {
	min, max, ceil time.Duration
}

func newBackoff(lo, hi time.Duration) *backoff {
	return &backoff{min: lo, max: hi, ceil: min(2*lo, hi)}
}

func (b *backoff) next() time.Duration {
	d := b.min
	if span := b.ceil - b.min; span > 0 {
		d += rand.N(span + 1)
	}
	b.ceil = min(2*b.ceil, b.max)
	return d
}
