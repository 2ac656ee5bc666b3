package slotcacheview_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind (the
// browser's reader, the HTTP server, the engine).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
