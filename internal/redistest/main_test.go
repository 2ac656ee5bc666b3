package redistest

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves goroutines behind, which
// covers the proxy's and the server helpers' cleanup paths.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
