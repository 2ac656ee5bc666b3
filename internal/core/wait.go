package core

import (
	"context"
	"sync"
)

// Wait waits for wg, or for ctx to end, and reports whether wg finished.
// What shuts down waits this way for goroutines it cannot interrupt (a
// loader that ignores its context), so that its caller's deadline holds;
// the goroutine it leaves waiting ends with the last of them.
func Wait(ctx context.Context, wg *sync.WaitGroup) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}
