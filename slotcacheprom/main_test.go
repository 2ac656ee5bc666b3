package slotcacheprom_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: engines,
// scrape servers and redis clients all close in their test's cleanups.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
