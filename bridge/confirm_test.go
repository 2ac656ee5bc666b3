package bridge_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/bridge"
	"github.com/slotcache/slotcache/internal/redistest"
)

// drained returns the events recorded so far, without waiting.
func (r *recorder) drained() []string {
	var evs []string
	for {
		select {
		case ev := <-r.events:
			evs = append(evs, ev)
		default:
			return evs
		}
	}
}

// TestPublishConfirmedWaitsForEveryInstance checks that a confirmed
// publish returns only once every other bridge on the channel has handed
// the invalidation to its handler, and that a subscriber that does not
// answer (a seed Node instance, a plain client) makes it fail with the
// count of missing answers.
func TestPublishConfirmedWaitsForEveryInstance(t *testing.T) {
	srv := redistest.Start(t)
	ch := uniqueChannel(t)
	a := startBridge(t, srv.Client(t), ch, "origin-a", newRecorder())
	recs := []*recorder{newRecorder(), newRecorder()}
	for i, rec := range recs {
		waitReady(t, startBridge(t, srv.Client(t), ch, []string{"origin-b", "origin-c"}[i], rec))
	}
	waitReady(t, a)

	for round := range 20 {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		require.NoError(t, a.Primary().PublishConfirmed(ctx, "x"), "round %d", round)
		cancel()
		for i, rec := range recs {
			require.Contains(t, rec.drained(), "inv:x", "round %d: instance %d had not applied it", round, i)
		}
	}

	rawSubscribe(t, srv.Client(t), ch) // never answers
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := a.Primary().PublishConfirmed(ctx, "y")
	require.ErrorIs(t, err, bridge.ErrUnconfirmed)
	require.ErrorContains(t, err, "1 of 4 subscribers did not answer")
}

// TestDecodeConfirm checks the optional confirm field of an invalidation.
func TestDecodeConfirm(t *testing.T) {
	n, err := bridge.DecodeNotice(`{"slotId":"s","_origin":"o","confirm":"id-1"}`, testMaxBytes)
	require.NoError(t, err)
	require.Equal(t, bridge.Notice{SlotID: "s", Origin: "o", Confirm: "id-1"}, n)
	_, err = bridge.DecodeNotice(`{"slotId":"s","confirm":5}`, testMaxBytes)
	require.ErrorIs(t, err, bridge.ErrMalformed)
}
