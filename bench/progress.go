package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/slotcache/slotcache/internal/term"
)

// progress shows how far the run is on stderr: a single line redrawn with
// \r on a terminal, one plain line per step otherwise (logs, CI).
type progress struct {
	mu    sync.Mutex
	stop  chan struct{} // ends the redraw ticker of a terminal display
	w     io.Writer
	tty   bool
	total int
	n     int
	t0    time.Time
	label string
}

// newProgress returns a progress display on w; it redraws in place only if
// w is a terminal.
func newProgress(w io.Writer) *progress {
	return &progress{w: w, tty: term.IsTerminal(w)}
}

// start begins a display of total steps; on a terminal the elapsed time is
// redrawn every half second until finish.
func (p *progress) start(total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total, p.n, p.t0 = total, 0, time.Now()
	if !p.tty {
		return
	}
	p.stop = make(chan struct{})
	go func(stop chan struct{}) {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				p.mu.Lock()
				p.draw()
				p.mu.Unlock()
			}
		}
	}(p.stop)
}

// step announces the next unit of work.
func (p *progress) step(label string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.label = label
	p.draw()
}

// done records that the current unit finished after d.
func (p *progress) done(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	if !p.tty {
		fmt.Fprintf(p.w, "bench: [%d/%d] %s done in %s\n", p.n, p.total, p.label, d.Round(time.Millisecond))
	}
}

// draw shows the bar (terminal) or announces the step (plain); p.mu is
// held.
func (p *progress) draw() {
	elapsed := time.Since(p.t0).Round(time.Second)
	if !p.tty {
		fmt.Fprintf(p.w, "bench: [%d/%d] %s ... (%s elapsed)\n", p.n+1, p.total, p.label, elapsed)
		return
	}
	bar := term.Bar(30, float64(p.n)/float64(max(p.total, 1)))
	line := fmt.Sprintf("%s %3d/%d %6s  %s", bar, p.n, p.total, elapsed, p.label)
	fmt.Fprintf(p.w, "\r%-100s", line)
}

// finish ends the display.
func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stop != nil {
		close(p.stop)
		p.stop = nil
	}
	if p.tty {
		p.label = "done"
		p.draw()
		fmt.Fprintln(p.w)
	}
}
