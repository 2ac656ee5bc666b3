package slotcache

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/internal/redistest"
)

// TestSigningFleetMigratesWithFill: the fill tier follows a fleet's
// migration to signing as the channel does (TestSigningFleetMigrates). An
// engine in migration mode writes its shared copies unsigned, so that one
// that does not sign yet still shares them, and serves signed copies too;
// one that requires signatures never serves the migrating engine's
// unsigned copy (it loads the slot and counts it), and one that does not
// sign cannot read a signed copy, so it loads too, never fails a Get.
func TestSigningFleetMigratesWithFill(t *testing.T) {
	srv := redistest.Start(t)
	ch := rtChannel(t)
	start := func(opts ...Option) (*Engine, *rtLoader) {
		e := rtEngine(t, srv.Client(t), ch, append(opts, WithFill(FillPolicy{}))...)
		rtReady(t, e)
		return e, &rtLoader{}
	}
	plain, lp := start()
	migrating, lm := start(WithSigning(Signing{Keys: [][]byte{sgKeyA}, AcceptUnsigned: true}))
	required, lr := start(WithSigningKey(sgKeyA))

	require.Equal(t, "m#1", rtGet(t, migrating, "m", lm))
	require.Equal(t, "m#1", rtGet(t, plain, "m", lp))
	require.Zero(t, lp.calls.Load(), "an engine that does not sign did not share a migrating engine's copy")
	rtGet(t, required, "m", lr)
	require.Equal(t, int64(1), lr.calls.Load(), "an engine that requires signatures served an unsigned copy")
	require.Equal(t, uint64(1), required.Stats().FillUnverified)

	require.Equal(t, "r#2", rtGet(t, required, "r", lr))
	require.Equal(t, "r#2", rtGet(t, migrating, "r", lm))
	require.Equal(t, int64(1), lm.calls.Load(), "a migrating engine did not share a signed copy")
	rtGet(t, plain, "r", lp)
	require.Equal(t, int64(1), lp.calls.Load(), "an engine that does not sign cannot read a signed copy")

	require.Equal(t, uint64(1), plain.Stats().FillSharedHits)
	require.Equal(t, uint64(1), migrating.Stats().FillSharedHits)
	require.Zero(t, required.Stats().FillSharedHits)
}
