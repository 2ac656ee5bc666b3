package fill

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: bounded
// Redis calls, followers and relays all end by the time their test's
// cleanups have run.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
