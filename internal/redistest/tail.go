package redistest

import "sync"

// tailBufferSize bounds how much redis-server output is kept for failure
// messages; the last few KiB are where startup errors are reported.
const tailBufferSize = 4 << 10

// tailBuffer is a goroutine-safe io.Writer that keeps only the last
// tailBufferSize bytes written to it, so a chatty server cannot grow memory
// without bound while its latest output stays available for diagnostics.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

// Write appends p, discarding the oldest bytes beyond tailBufferSize.
func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - tailBufferSize; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

// String returns the retained output.
func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
