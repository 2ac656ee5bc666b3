package fill

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/internal/core"
)

// dueSoon shares for an hour, due for reload 1 ms after it was written, so
// that any later reader finds the copy due.
func dueSoon() *sharing {
	return &sharing{share: core.Share{TTL: time.Hour, RefreshAfter: time.Millisecond}, served: make(chan any, 4)}
}

// awaitDue waits until the copy of k is past its refresh point.
func (r *rig) awaitDue(k keys) {
	ctx := context.Background()
	due, err := r.client.Get(ctx, k.refresh).Int64()
	require.NoError(r.t, err, "the commit stored the refresh point")
	require.Eventually(r.t, func() bool {
		return r.client.PTTL(ctx, k.data).Val() <= time.Duration(due)*time.Millisecond
	}, waitFor, time.Millisecond)
}

// TestDueCopyRefreshedByLeaseWinner: the first reader to find a copy past
// its refresh point takes the lease, is handed the copy at once (Serve),
// reloads from the source and rewrites the copy; a reader meanwhile gets
// the old copy and does not call the source.
func TestDueCopyRefreshedByLeaseWinner(t *testing.T) {
	r := newRig(t)
	a, b, c := r.coord(), r.coord(), r.coord()
	ctx := context.Background()
	got := await(t, loadAsyncDecide(ctx, a, "s", newLoader(values("v")).load, dueSoon()))
	require.Equal(t, "v#1", got.v)
	k := r.keys("s")
	r.awaitDue(k)

	source := gatedLoader(values("w"))
	winner := &sharing{share: core.Share{TTL: time.Hour}, served: make(chan any, 4)}
	refreshing := loadAsyncDecide(ctx, b, "s", source.load, winner)
	source.awaitCall(t)
	select {
	case v := <-winner.served:
		require.Equal(t, "v#1", v, "the winner serves the old copy while it reloads")
	case <-time.After(waitFor):
		t.Fatal("the lease winner was not handed the copy")
	}

	other := newLoader(values("x"))
	got = await(t, loadAsyncDecide(ctx, c, "s", other.load, dueSoon()))
	require.Equal(t, "v#1", got.v)
	require.Equal(t, core.SharedCopy, got.src, "a reader during the refresh gets the old copy")
	require.Zero(t, other.calls.Load())

	source.open()
	got = await(t, refreshing)
	require.NoError(t, got.err)
	require.Equal(t, "w#1", got.v)
	require.Equal(t, core.LoadedHere, got.src)
	require.Equal(t, map[string]uint64{"shared_refresh": 1}, outcomes(b))
	require.False(t, r.exists(k.lock), "the commit released the lease")
	require.False(t, r.exists(k.refresh), "a copy shared without a refresh point has none")

	got = await(t, loadAsyncDecide(ctx, c, "s", other.load, dueSoon()))
	require.Equal(t, "w#1", got.v, "the others pick the new copy up")
	require.Equal(t, core.SharedCopy, got.src)
	require.Equal(t, map[string]uint64{"shared_hit": 2}, outcomes(c))
	require.Zero(t, other.calls.Load())
}

// TestDropDeletesRefreshPoint: an invalidation deletes the copy's refresh
// point with it, and a refresh that it overtook cannot commit.
func TestDropDeletesRefreshPoint(t *testing.T) {
	r := newRig(t)
	a, b := r.coord(), r.coord()
	ctx := context.Background()
	await(t, loadAsyncDecide(ctx, a, "s", newLoader(values("v")).load, dueSoon()))
	k := r.keys("s")
	r.awaitDue(k)

	source := gatedLoader(values("w"))
	refreshing := loadAsyncDecide(ctx, b, "s", source.load, dueSoon())
	source.awaitCall(t)
	require.NoError(t, a.Drop(ctx, "s"))
	for _, key := range []string{k.data, k.lock, k.refresh} {
		require.False(t, r.exists(key), key)
	}
	source.open()
	got := await(t, refreshing)
	require.Equal(t, core.CommitRejected, got.src, "the invalidation overtook the refresh")
	require.False(t, r.exists(k.data))
}
