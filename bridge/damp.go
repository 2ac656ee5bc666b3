package bridge

import (
	"sync"
	"time"
)

// Damping: anyone who can PUBLISH on the channel, or a buggy deploy that
// loops on InvalidateAll, can send thousands of invalidations a second, and
// each "*" would drop every slot: the cache would turn each message into a
// reload of its whole working set, an amplifier of source load. The damper
// stands between the receive loop and the Handler and applies a remote
// invalidation at once unless the same slot, or every slot, was already
// applied in the current window; then it holds it, and one flush at the
// end of the window applies everything held so far, coalesced: "*"
// supersedes single slots, a slot held twice is applied once. So a slot is
// applied at most twice per window (once at once, once by the flush)
// however many messages name it, and a held invalidation waits at most one
// window.
//
// A window lasts dampFirstWindow, except in a storm of "*": each flush
// that applies one doubles the next window, up to Config.Damping. A few
// milliseconds bound a storm of single slots well (one message costs at
// most one load), but not one of "*": it drops the whole working set, and
// reloading 1000 slots with 8 readers and a 1 ms loader takes some 125 ms,
// so a flush every 5 ms keeps the cache as cold as no damping at all
// (BENCHMARKS.md, "Invalidation storms"). Doubling keeps a short burst's
// delay short: the window in force is at most dampFirstWindow plus how
// long the storm has lasted, and never more than Config.Damping.
//
// What damping must not break:
//   - the watermark: a heartbeat echo says that everything published before
//     it has been applied, so while anything is held the watermark waits
//     for the flush that applies it (at most one window) and passes then;
//     flushing at the echo instead would add a flush per heartbeat, which
//     doubles the reloads of a "*" storm once the window reaches a second;
//   - confirmations: a held confirmed invalidation is answered after the
//     flush that applies it, never before;
//   - nothing held is dropped until Close or Detach: a new session, a
//     resync, or a heartbeat miss leaves it for its flush.
//
// The window starts with an invalidation applied at once (or a flush) and
// ends lazily: the next message after it, with nothing held, starts afresh,
// so no timer runs unless something is held.

// dampFirstWindow is the window after a quiet spell (Config.Damping if
// shorter): short enough that a legitimate burst of writes is barely
// delayed.
const dampFirstWindow = 5 * time.Millisecond

// dampMaxPending bounds the single slots held (and remembered as applied
// in the window); past it the held ones fold into one invalidation of
// every slot, which covers them, so a flood of distinct slot IDs costs
// bounded memory.
const dampMaxPending = 10_000

// dampMaxConfirms bounds the answers owed for held confirmed
// invalidations; reaching it flushes at once, so that no answer is lost
// and a flood of confirm fields costs bounded memory.
const dampMaxConfirms = 1024

// damper coalesces one channel's remote invalidations (see above). With a
// window, every Handler call it makes happens under mu, one at a time.
type damper struct {
	window   int64 // the longest window, nanoseconds; 0 applies everything at once
	first    int64 // the window after a quiet spell
	maxHeld  int   // dampMaxPending, smaller in tests
	now      func() int64
	schedule func(after time.Duration, f func()) (stop func() bool)
	h        Handler
	answer   func(id, origin string) // answers a confirmed invalidation
	stats    *counters

	mu      sync.Mutex
	stopped bool
	until   int64   // end of the current window; 0 when none is open
	cur     int64   // length of the current window
	hot     slotSet // what was applied in this window
	held    slotSet // what waits for the flush
	count   uint64  // messages the held invalidations stand for
	since   int64   // arrival of the oldest held one
	owed    []owedAnswer
	mark    time.Time // a watermark waiting for the flush; zero: none
	armed   bool
	stop    func() bool // stops the armed timer
}

// slotSet is a set of slots that may stand for every slot: a "*", or
// more than limit single slots, which it folds into every slot, since that
// covers them and a flood of distinct slot IDs then costs bounded memory.
// The damper keeps two: the slots applied in the current window, and the
// ones held for its flush.
type slotSet struct {
	all bool // every slot
	ids map[string]struct{}
}

// has reports whether slotID, or every slot, is in s.
func (s *slotSet) has(slotID string) bool {
	_, ok := s.ids[slotID] // never All: add folds it into s.all
	return s.all || ok
}

// add puts slotID (All for every slot) in s, and reports whether s was
// full and folded into every slot.
func (s *slotSet) add(slotID string, limit int) (folded bool) {
	switch {
	case s.all:
	case slotID == All:
		s.all = true
		clear(s.ids)
	case len(s.ids) >= limit:
		s.all = true
		clear(s.ids)
		return true
	default:
		if s.ids == nil {
			s.ids = make(map[string]struct{})
		}
		s.ids[slotID] = struct{}{}
	}
	return false
}

// empty empties s, dropping its map if a burst made it large: a map keeps
// its memory once grown, and a storm of distinct slots grows it to
// dampMaxPending entries.
func (s *slotSet) empty() {
	s.all = false
	if len(s.ids) > 64 {
		s.ids = nil
		return
	}
	clear(s.ids)
}

// owedAnswer is a confirmed invalidation held, to answer once applied.
type owedAnswer struct{ id, origin string }

// initDamp sets up s's damper with the bound of its channel (Config.Damping
// for the primary one, Attach's for the others).
func (s *Sub) initDamp(bound time.Duration) {
	b := s.b
	s.damp = damper{
		window:  int64(bound),
		first:   int64(min(bound, dampFirstWindow)),
		maxHeld: dampMaxPending,
		now:     b.now,
		schedule: func(after time.Duration, f func()) func() bool {
			return time.AfterFunc(after, f).Stop
		},
		h:      s.h,
		answer: s.answer,
		stats:  &s.stats,
	}
}

// offer applies or holds one remote invalidation of slotID (All for every
// slot), which asks for an answer when confirm and origin are set. It runs
// on the receive goroutine.
func (d *damper) offer(slotID, confirm, origin string) {
	if d.window <= 0 {
		d.stats.applied.Add(1) // counted first, as before damping: tests await the call
		d.apply(slotID)
		d.confirm(confirm, origin)
		return
	}
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		return
	}
	now := d.now()
	var owed []owedAnswer
	if d.until != 0 && now >= d.until {
		owed = d.endWindow(now)
	}
	if d.hot.has(slotID) {
		owed = append(owed, d.hold(slotID, confirm, origin, now)...)
		d.mu.Unlock()
		d.pay(owed)
		return
	}
	d.stats.applied.Add(1)
	d.apply(slotID)
	d.hot.add(slotID, d.maxHeld)
	if d.until == 0 {
		d.cur = d.first
		d.until = now + d.cur
	}
	d.mu.Unlock()
	d.pay(owed)
	d.confirm(confirm, origin)
}

// hold keeps slotID for the flush at the end of the window, arming its
// timer if none is. It returns the answers a flush forced by too many owed
// ones made due.
func (d *damper) hold(slotID, confirm, origin string, now int64) []owedAnswer {
	if d.count == 0 {
		d.since = now
	}
	d.count++
	d.stats.damped.Add(1)
	if d.held.add(slotID, d.maxHeld) {
		d.stats.dampFolded.Add(1)
	}
	if confirm != "" && origin != "" {
		d.owed = append(d.owed, owedAnswer{confirm, origin})
		if len(d.owed) >= dampMaxConfirms {
			return d.flush(now)
		}
	}
	d.arm(now)
	return nil
}

// arm schedules the flush at the end of the window, unless one is
// scheduled.
func (d *damper) arm(now int64) {
	if d.armed {
		return
	}
	d.armed = true
	d.stop = d.schedule(time.Duration(d.until-now), d.fire)
}

// fire is the timer's flush.
func (d *damper) fire() {
	d.mu.Lock()
	d.armed = false
	var owed []owedAnswer
	if !d.stopped && d.count > 0 {
		if now := d.now(); now < d.until {
			d.arm(now) // a flush moved the window meanwhile
		} else {
			owed = d.flush(now)
		}
	}
	d.mu.Unlock()
	d.pay(owed)
}

// watermark passes on a heartbeat's watermark, which vouches for every
// invalidation received before it: at once if nothing is held, else with
// the flush that applies what is held. It runs on the receive goroutine,
// so that nothing is held meanwhile that the watermark would not cover.
func (d *damper) watermark(at time.Time) {
	if d.window > 0 {
		d.mu.Lock()
		if !d.stopped && d.count > 0 {
			if at.After(d.mark) {
				d.mark = at
			}
			d.mu.Unlock()
			return
		}
		d.mu.Unlock()
	}
	d.h.Watermark(at)
}

// endWindow closes the window that ended by now: a flush of what is held
// opens the next one, and with nothing held no window is open.
func (d *damper) endWindow(now int64) []owedAnswer {
	if d.count > 0 {
		return d.flush(now)
	}
	d.until = 0
	d.hot.empty()
	return nil
}

// flush applies everything held and opens a window in which the slots it
// applied count as applied: twice as long as the last one (up to
// d.window) when it applied every slot, else the first window's length.
// It returns the answers now due, which the caller pays once mu is
// released.
func (d *damper) flush(now int64) []owedAnswer {
	d.stats.applied.Add(d.count)
	d.stats.dampFlushes.Add(1)
	if d.held.all {
		d.h.InvalidateAll()
	} else {
		for slotID := range d.held.ids {
			d.h.Invalidate(slotID)
		}
	}
	if !d.mark.IsZero() {
		d.h.Watermark(d.mark)
		d.mark = time.Time{}
	}
	for delay := now - d.since; ; {
		m := d.stats.dampMaxDelay.Load()
		if delay <= m || d.stats.dampMaxDelay.CompareAndSwap(m, delay) {
			break
		}
	}
	d.hot, d.held = d.held, d.hot
	d.held.empty()
	if d.hot.all {
		d.cur = min(2*d.cur, d.window)
	} else {
		d.cur = d.first
	}
	d.until = now + d.cur
	d.count = 0
	owed := d.owed
	d.owed = nil
	return owed
}

// halt stops the damper for good (Close, Detach): the timer is stopped
// and what is held is dropped, since the handler hears nothing more.
func (d *damper) halt() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopped = true
	if d.armed {
		d.stop()
		d.armed = false
	}
	d.held.empty()
	d.count, d.owed, d.mark = 0, nil, time.Time{}
}

func (d *damper) apply(slotID string) {
	if slotID == All {
		d.h.InvalidateAll()
	} else {
		d.h.Invalidate(slotID)
	}
}

// confirm answers a confirmed invalidation just applied.
func (d *damper) confirm(id, origin string) {
	if id != "" && origin != "" {
		d.answer(id, origin)
	}
}

// pay answers confirmed invalidations a flush applied.
func (d *damper) pay(owed []owedAnswer) {
	for _, a := range owed {
		d.answer(a.id, a.origin)
	}
}
