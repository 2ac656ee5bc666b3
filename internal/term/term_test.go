package term

import (
	"bytes"
	"os"
	"testing"
)

func TestBar(t *testing.T) {
	for _, c := range []struct {
		f    float64
		want string
	}{{0, "░░░░"}, {0.5, "██░░"}, {1, "████"}, {2, "████"}, {-1, "░░░░"}} {
		if got := Bar(4, c.f); got != c.want {
			t.Errorf("Bar(4, %v) = %q, want %q", c.f, got, c.want)
		}
	}
}

func TestIsTerminal(t *testing.T) {
	if IsTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is not a terminal")
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) {
		t.Error("a regular file is not a terminal")
	}
}
