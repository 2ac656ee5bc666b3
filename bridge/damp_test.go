package bridge

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Unit tests of the damper (damp.go) on a fake clock: a handler that logs
// its calls in order, answers logged in the same log, and timers that fire
// only when the test moves the clock past them.

const (
	testFirst  = 5 * time.Millisecond
	testWindow = 80 * time.Millisecond
)

// dampRig is a damper with a fake clock, timers and handler.
type dampRig struct {
	d      *damper
	stats  counters
	mu     sync.Mutex
	now    int64
	timers []*fakeTimer
	log    []string // handler calls and answers, in order
}

type fakeTimer struct {
	at      int64
	f       func()
	stopped bool
}

func newDampRig(window time.Duration) *dampRig {
	r := &dampRig{}
	r.d = &damper{
		window:  int64(window),
		first:   int64(min(window, testFirst)),
		maxHeld: dampMaxPending,
		now: func() int64 {
			r.mu.Lock()
			defer r.mu.Unlock()
			return r.now
		},
		schedule: func(after time.Duration, f func()) func() bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			t := &fakeTimer{at: r.now + int64(after), f: f}
			r.timers = append(r.timers, t)
			return func() bool {
				r.mu.Lock()
				defer r.mu.Unlock()
				was := !t.stopped
				t.stopped = true
				return was
			}
		},
		h:      (*rigHandler)(r),
		answer: func(id, origin string) { r.record("ack:" + id + "@" + origin) },
		stats:  &r.stats,
	}
	return r
}

// rigHandler is the rig as the damper's Handler.
type rigHandler dampRig

func (h *rigHandler) Invalidate(slotID string) { (*dampRig)(h).record("inv:" + slotID) }
func (h *rigHandler) InvalidateAll()           { (*dampRig)(h).record("all") }
func (h *rigHandler) Resync()                  { (*dampRig)(h).record("resync") }
func (h *rigHandler) Filled(slotID string)     { (*dampRig)(h).record("filled:" + slotID) }
func (h *rigHandler) Watermark(sent time.Time) {
	(*dampRig)(h).record(fmt.Sprintf("wm:%d", sent.UnixNano()))
}

func (r *dampRig) record(ev string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, ev)
}

// take returns the calls logged since the last take.
func (r *dampRig) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.log
	r.log = nil
	return out
}

// advance moves the clock by dt and fires the timers due, in order, as
// the runtime would (a timer's f runs without the rig's lock).
func (r *dampRig) advance(dt time.Duration) {
	r.mu.Lock()
	r.now += int64(dt)
	r.mu.Unlock()
	for {
		r.mu.Lock()
		var due *fakeTimer
		for _, t := range r.timers {
			if !t.stopped && t.at <= r.now && (due == nil || t.at < due.at) {
				due = t
			}
		}
		if due != nil {
			due.stopped = true
		}
		r.mu.Unlock()
		if due == nil {
			return
		}
		due.f()
	}
}

// armed reports how many timers are pending.
func (r *dampRig) armed() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, t := range r.timers {
		if !t.stopped {
			n++
		}
	}
	return n
}

// TestDamperStormOfAll: the first "*" is applied at once, the next ones
// are held and applied by one flush at the window's end, whose delay is
// counted; each flush of "*" doubles the next window up to the bound, and
// a quiet spell starts afresh with the short window.
func TestDamperStormOfAll(t *testing.T) {
	r := newDampRig(testWindow)
	r.d.offer(All, "", "")
	require.Equal(t, []string{"all"}, r.take(), "the first is applied at once")
	for range 100 {
		r.d.offer(All, "", "")
	}
	require.Empty(t, r.take(), "the others wait for the window's end")
	require.Equal(t, uint64(100), r.stats.damped.Load())
	require.Equal(t, uint64(1), r.stats.applied.Load(), "held ones are not applied yet")

	r.advance(testFirst - 1)
	require.Empty(t, r.take())
	r.advance(1)
	require.Equal(t, []string{"all"}, r.take(), "one flush for the 100")
	require.Equal(t, uint64(101), r.stats.applied.Load())
	require.Equal(t, uint64(1), r.stats.dampFlushes.Load())
	require.Equal(t, int64(testFirst), r.stats.dampMaxDelay.Load())

	// The storm goes on: each window is twice the last, up to the bound.
	for _, want := range []time.Duration{2 * testFirst, 4 * testFirst, 8 * testFirst, 16 * testFirst, testWindow, testWindow} {
		r.d.offer(All, "", "")
		r.advance(want - 1)
		require.Empty(t, r.take(), "window of %v", want)
		r.advance(1)
		require.Equal(t, []string{"all"}, r.take(), "window of %v", want)
	}
	require.Equal(t, int64(testWindow), r.stats.dampMaxDelay.Load())

	// Quiet for a window: the next one is applied at once, and the window
	// is short again.
	r.advance(testWindow)
	r.d.offer(All, "", "")
	require.Equal(t, []string{"all"}, r.take())
	r.d.offer(All, "", "")
	r.advance(testFirst)
	require.Equal(t, []string{"all"}, r.take())
	require.Zero(t, r.armed())
}

// TestDamperSlots: a slot is applied at once the first time in a window,
// other slots too; a slot repeated is held and applied once by the flush,
// whose window stays short (no storm of "*"). A held "*" supersedes held
// slots, and a slot after a "*" is held.
func TestDamperSlots(t *testing.T) {
	r := newDampRig(testWindow)
	r.d.offer("a", "", "")
	r.d.offer("b", "", "")
	require.Equal(t, []string{"inv:a", "inv:b"}, r.take(), "distinct slots are applied at once")
	for range 10 {
		r.d.offer("a", "", "")
	}
	r.d.offer("b", "", "")
	require.Empty(t, r.take())
	r.advance(testFirst)
	require.ElementsMatch(t, []string{"inv:a", "inv:b"}, r.take(), "each held slot once")
	require.Equal(t, uint64(13), r.stats.applied.Load())

	// The flushed slots count as applied in the next window, which is the
	// short one again.
	r.d.offer("a", "", "")
	require.Empty(t, r.take())
	r.advance(testFirst)
	require.Equal(t, []string{"inv:a"}, r.take())

	// "*" supersedes the slots held with it.
	r.advance(testFirst)
	r.d.offer(All, "", "")
	require.Equal(t, []string{"all"}, r.take())
	r.d.offer("c", "", "")
	r.d.offer(All, "", "")
	r.d.offer("d", "", "")
	r.advance(testFirst)
	require.Equal(t, []string{"all"}, r.take())
}

// TestDamperBounds: held single slots past the bound fold into one
// invalidation of every slot (counted); slots applied at once past the
// bound make every slot count as applied, so that a flood of distinct IDs
// is damped too.
func TestDamperBounds(t *testing.T) {
	r := newDampRig(testWindow)
	r.d.maxHeld = 3
	r.d.offer(All, "", "")
	r.take()
	for _, id := range []string{"a", "b", "c"} {
		r.d.offer(id, "", "")
	}
	require.Zero(t, r.stats.dampFolded.Load())
	r.d.offer("d", "", "")
	require.Equal(t, uint64(1), r.stats.dampFolded.Load())
	r.advance(testFirst)
	require.Equal(t, []string{"all"}, r.take(), "folded into one invalidation of every slot")

	r = newDampRig(testWindow)
	r.d.maxHeld = 3
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		r.d.offer(id, "", "")
	}
	require.Equal(t, []string{"inv:a", "inv:b", "inv:c", "inv:d"}, r.take(),
		"three remembered, the fourth marks every slot as applied, the fifth waits")
	r.advance(testFirst)
	require.Equal(t, []string{"inv:e"}, r.take())
}

// TestDamperWatermarkWaitsForFlush: a watermark that arrives while
// invalidations are held is passed on only after the flush that applies
// them; with nothing held it passes at once.
func TestDamperWatermarkWaitsForFlush(t *testing.T) {
	r := newDampRig(testWindow)
	w := func(n int64) time.Time { return time.Unix(0, n) }
	r.d.watermark(w(1))
	require.Equal(t, []string{"wm:1"}, r.take(), "nothing held: at once")

	r.d.offer(All, "", "")
	r.d.offer(All, "", "")
	r.d.watermark(w(2))
	r.d.watermark(w(3))
	require.Equal(t, []string{"all"}, r.take(), "the watermark waits for the held one")
	r.advance(testFirst)
	require.Equal(t, []string{"all", "wm:3"}, r.take(), "applied first, then the latest watermark")

	r.d.offer(All, "", "") // held: the flush made every slot applied
	r.d.watermark(w(4))
	r.d.halt()
	r.advance(testWindow)
	require.Empty(t, r.take(), "halted: nothing more, not even the watermark")
}

// TestDamperConfirmsAfterApply: a held confirmed invalidation is answered
// after the flush that applies it, one applied at once right after it;
// answers owed past the bound force a flush, so none is lost.
func TestDamperConfirmsAfterApply(t *testing.T) {
	r := newDampRig(testWindow)
	r.d.offer("a", "c1", "w")
	require.Equal(t, []string{"inv:a", "ack:c1@w"}, r.take())
	r.d.offer("a", "c2", "w")
	r.d.offer("a", "c3", "")
	require.Empty(t, r.take(), "no answer before it is applied")
	r.advance(testFirst)
	require.Equal(t, []string{"inv:a", "ack:c2@w"}, r.take(), "answered after the flush; none asked without an origin")

	r.advance(testWindow)
	r.d.offer(All, "", "")
	r.take()
	for i := range dampMaxConfirms - 1 {
		r.d.offer("x", fmt.Sprint(i), "w")
	}
	require.Empty(t, r.take())
	r.d.offer("x", "last", "w")
	got := r.take()
	require.Len(t, got, 1+dampMaxConfirms)
	require.Equal(t, "inv:x", got[0], "applied before any answer")
	require.Equal(t, "ack:last@w", got[len(got)-1])
}

// TestDamperTimers: a flush that moved the window (a late timer overtaken
// by the next message) makes the old timer re-arm instead of flushing
// early; halt stops the timer and drops what is held; a zero window
// applies everything at once and arms nothing.
func TestDamperTimers(t *testing.T) {
	r := newDampRig(testWindow)
	r.d.offer(All, "", "")
	r.d.offer(All, "", "")
	r.take()
	// The timer is late: the next message, past the window, flushes.
	r.mu.Lock()
	r.now += int64(testFirst)
	r.mu.Unlock()
	r.d.offer(All, "", "")
	require.Equal(t, []string{"all"}, r.take(), "flushed by the message past the window; it is held in the next")
	r.advance(0) // the old timer fires now, before the new window's end
	require.Empty(t, r.take(), "no flush before the window's end")
	r.advance(2*testFirst - 1)
	require.Empty(t, r.take())
	r.advance(1)
	require.Equal(t, []string{"all"}, r.take())

	r.d.offer(All, "", "")
	require.Equal(t, 1, r.armed())
	r.d.halt()
	require.Zero(t, r.armed(), "halt stops the timer")
	r.d.offer(All, "", "")
	r.advance(testWindow)
	require.Empty(t, r.take(), "halted: nothing applied")

	off := newDampRig(0)
	for range 3 {
		off.d.offer(All, "c", "w")
	}
	require.Equal(t, []string{"all", "ack:c@w", "all", "ack:c@w", "all", "ack:c@w"}, off.take())
	require.Zero(t, off.armed())
	require.Zero(t, off.stats.damped.Load())
}
