package main

import (
	"fmt"
	"io"
	"time"

	"github.com/slotcache/slotcache/internal/term"
)

// benchProgress shows how far a timed run is on w: a single line redrawn
// with \r when w is a terminal, a plain line every plainEvery otherwise (a
// log, CI, a test).
type benchProgress struct {
	w          io.Writer
	tty        bool
	total      time.Duration
	plainEvery time.Duration
	lastPlain  time.Duration
}

// newBenchProgress returns a progress display for a run of total.
func newBenchProgress(w io.Writer, total time.Duration) *benchProgress {
	return &benchProgress{w: w, tty: term.IsTerminal(w), total: total, plainEvery: max(time.Second, total/10)}
}

// interval is how often update should be called.
func (p *benchProgress) interval() time.Duration {
	if p.tty {
		return 200 * time.Millisecond
	}
	return min(p.plainEvery, time.Second)
}

// update shows the state after elapsed: gets done, and what else is worth
// a glance.
func (p *benchProgress) update(elapsed time.Duration, gets int64, note string) {
	p.show(elapsed, gets, note, false)
}

// show draws the state; in plain mode it prints a line at most every
// plainEvery, unless final.
func (p *benchProgress) show(elapsed time.Duration, gets int64, note string, final bool) {
	rate := float64(gets) / max(elapsed.Seconds(), 1e-9)
	if !p.tty {
		// A tick that lands next to the end leaves the last line to
		// finish, so that it is printed once.
		if !final && (elapsed-p.lastPlain < p.plainEvery || p.total-elapsed < p.plainEvery/2) {
			return
		}
		p.lastPlain = elapsed
		fmt.Fprintf(p.w, "bench: %s / %s  %d Gets (%s/s)  %s\n",
			elapsed.Round(100*time.Millisecond), p.total, gets, humanCount(rate), note)
		return
	}
	bar := term.Bar(30, elapsed.Seconds()/max(p.total.Seconds(), 1e-9))
	line := fmt.Sprintf("%s %5.1fs/%s  %s Gets/s  %s", bar, elapsed.Seconds(), p.total, humanCount(rate), note)
	fmt.Fprintf(p.w, "\r%-110s", line)
}

// finish shows the final state and ends the display.
func (p *benchProgress) finish(elapsed time.Duration, gets int64, note string) {
	p.show(elapsed, gets, note, true)
	if p.tty {
		fmt.Fprintf(p.w, "\r%-110s\r", "")
	}
}

// humanCount prints n with a k/M suffix and three significant digits.
func humanCount(n float64) string {
	switch {
	case n >= 1e6:
		return trimZeros(fmt.Sprintf("%.2f", n/1e6)) + "M"
	case n >= 1e4:
		return trimZeros(fmt.Sprintf("%.1f", n/1e3)) + "k"
	default:
		return fmt.Sprintf("%.0f", n)
	}
}
