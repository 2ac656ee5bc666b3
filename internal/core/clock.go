package core

import (
	"sync"
	"sync/atomic"
	"time"
)

// ClockTick is how often the coarse clock advances. ClockSlack is the margin
// within which a reader stops trusting it and reads the precise clock instead.
// Reading time.Now costs ~50 ns on these machines, more than the rest of a
// hit, so a hit pays it only in the last ClockSlack of an entry's life.
const (
	ClockTick  = 10 * time.Millisecond
	ClockSlack = 100 * time.Millisecond
)

// Clock is a monotonic clock in nanoseconds since its creation, with a cheap
// coarse reading kept up to date by a ticker goroutine.
//
// Freshness stays exact from the reader's side: the coarse reading is only
// used when it proves an entry fresh with ClockSlack to spare; anything close
// to its deadline is checked against the precise clock.
type Clock struct {
	base   time.Time
	coarse atomic.Int64
	stop   chan struct{}
	wg     sync.WaitGroup
	once   sync.Once
}

// NewClock starts a clock and its ticker. Stop it with Stop.
func NewClock() *Clock {
	c := &Clock{base: time.Now(), stop: make(chan struct{})}
	c.wg.Add(1)
	go c.run()
	return c
}

func (c *Clock) run() {
	defer c.wg.Done()
	t := time.NewTicker(ClockTick)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.coarse.Store(c.Now())
		}
	}
}

// Now is the precise monotonic time in nanoseconds since the clock started.
func (c *Clock) Now() int64 { return int64(time.Since(c.base)) }

// Before reports whether the current time is before deadline.
func (c *Clock) Before(deadline int64) bool {
	if c.coarse.Load()+int64(ClockSlack) < deadline {
		return true
	}
	return c.Now() < deadline
}

// Stop ends the ticker goroutine. The clock still answers Now and Before.
func (c *Clock) Stop() {
	c.once.Do(func() { close(c.stop) })
	c.wg.Wait()
}
