package actors

import (
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/internal/core"
	"github.com/slotcache/slotcache/internal/logtest"
)

// A loader that panics after its load timed out is a loader bug like any
// other: it is counted in LoaderPanics and logged at Error, naming the
// slot it loaded. Its actor, which may serve another slot by then
// (TestCombinedLateLoaderAfterRebind), is not restarted: its waiters had
// their timeout, and nothing of the load is kept.
func TestLatePanicIsReportedWithoutRestart(t *testing.T) {
	r := newRig(t, time.Hour)
	rec := &logtest.Recorder{}
	r.env.Logger = slog.New(rec)
	s, _, _, c, reply := r.loading("a")
	f := s.current
	c.deliver(s, (*flightTimeout)(f))
	require.ErrorIs(t, (<-reply).Err, core.ErrLoadTimeout)

	pe := &core.PanicError{Slot: "a", Value: "late boom"}
	f.panic = pe
	require.NotPanics(t, func() { c.deliver(s, done(f, core.FillResult{Err: pe})) }, "the actor is not restarted")
	require.Equal(t, uint64(1), r.env.Stats.LoaderPanics.Load())
	require.True(t, rec.Has("ERROR", "slot=a", "panic=late boom"), "%s", rec)
}
