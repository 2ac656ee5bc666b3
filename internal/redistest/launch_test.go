package redistest

import (
	"context"
	"testing"
)

// Launch starts the same server outside a test; Kill stops it.
func TestLaunch(t *testing.T) {
	s, err := Launch(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := s.Client(t)
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("ping: %v", err)
	}
	s.Kill()
	if err := c.Ping(context.Background()).Err(); err == nil {
		t.Fatal("the server still answers after Kill")
	}
}
