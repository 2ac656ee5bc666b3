package bridge

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestOutboxCoalesces checks the outbox's rules without Redis: one entry
// per slot in first-queued order, All supersedes what came before, the
// bound folds into All, and a failed batch goes back ahead of newer ones.
func TestOutboxCoalesces(t *testing.T) {
	var o outbox
	for _, id := range []string{"a", "b", "a", "c"} {
		o.add(id, 10, nil)
	}
	batch, upTo, _, ok := o.take()
	require.True(t, ok)
	require.Equal(t, []string{"a", "b", "c"}, batch)
	require.Equal(t, uint64(4), upTo)

	// Failed after "a": "b" and "c" go back ahead of "d", queued since;
	// "c" queued again keeps its older place.
	o.add("d", 10, nil)
	o.add("c", 10, nil)
	o.putBack(batch[1:])
	batch, _, _, _ = o.take()
	require.Equal(t, []string{"b", "c", "d"}, batch)

	// All supersedes everything queued before it, and what comes after.
	o.add("x", 10, nil)
	o.add(All, 10, nil)
	o.add("y", 10, nil)
	batch, _, _, _ = o.take()
	require.Equal(t, []string{All}, batch)

	// A put-back All stays All; newer slots are covered by it.
	o.add("z", 10, nil)
	o.putBack([]string{All})
	batch, _, _, _ = o.take()
	require.Equal(t, []string{All}, batch)

	// Past the bound, everything folds into All.
	o.add("p", 2, nil)
	o.add("q", 2, nil)
	_, _, folded := o.add("r", 2, nil)
	require.Equal(t, 3, folded)
	batch, _, _, _ = o.take()
	require.Equal(t, []string{All}, batch)

	_, _, _, ok = o.take()
	require.False(t, ok, "an empty outbox stops its drainer")
}

// TestOutboxKeepsTheLatestAttempt checks that only a slot's latest
// invalidation decides whether the drainer may trust an earlier publish:
// one queued without an attempt must be published again.
func TestOutboxKeepsTheLatestAttempt(t *testing.T) {
	var o outbox
	att := make(chan error, 1)
	o.add("a", 10, att)
	o.add("b", 10, att)
	o.add("b", 10, nil) // newer, never tried
	_, _, attempts, _ := o.take()
	require.Contains(t, attempts, "a")
	require.NotContains(t, attempts, "b")
}

// TestLandedWaitsOnePublishTimeoutInAll: the drainer waits for publishes
// that did not answer in time, but for one publish timeout in all, however
// many there are: a publish on a dead link (ReadTimeout -1) never answers.
func TestLandedWaitsOnePublishTimeoutInAll(t *testing.T) {
	b := &Bridge{cfg: Config{PublishTimeout: 20 * time.Millisecond}, ctx: context.Background()}
	s := &Sub{b: b}
	never := make(chan error)
	done := make(chan map[string]bool, 1)
	go func() { done <- s.landed(map[string]<-chan error{"x": never, "y": never, "z": never}) }()
	select {
	case landed := <-done:
		require.Empty(t, landed)
	case <-time.After(10 * time.Second):
		t.Fatal("the drainer still waits for publishes that never answer")
	}
}
