package slotcache

import "sync"

// spin runs body(g, i) on n goroutines, g numbering them and i counting
// goroutine g's rounds from 0, until body returns false or the returned
// stop is called; stop returns once every goroutine has. It is the load
// that tests checking a property under concurrent Gets, invalidations or
// Resets keep running in the background.
func spin(n int, body func(g, i int) bool) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for g := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				if !body(g, i) {
					return
				}
			}
		}()
	}
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		wg.Wait()
	}
}
