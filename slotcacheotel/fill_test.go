package slotcacheotel_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/slotcache/slotcache"
	"github.com/slotcache/slotcache/internal/redistest"
	"github.com/slotcache/slotcache/slotcacheotel"
)

// TestFillSpansAcrossInstances: two engines on a real redis-server with
// WithFill, one traced each. The instance that loads shows a fill.lease
// span under its load span, with the loader's work inside it; the one that
// waits shows a fill.wait span under its load span, woken by the other's
// commit.
func TestFillSpansAcrossInstances(t *testing.T) {
	srv := redistest.Start(t)
	channel := "slotcacheotel-test:" + t.Name()
	policy := slotcache.FillPolicy{Lease: 3 * time.Minute, Wait: 2 * time.Minute, PollMin: time.Minute, PollMax: time.Minute}
	traced := func() (*slotcache.Engine, *tracetest.SpanRecorder) {
		rec := tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
		obs, err := slotcacheotel.NewObserver(slotcacheotel.WithTracerProvider(tp))
		require.NoError(t, err)
		e, err := slotcache.New(slotcache.WithRedis(srv.Client(t)), slotcache.WithChannel(channel),
			slotcache.WithFill(policy), slotcache.WithLoadTimeout(5*time.Minute), slotcache.WithObserver(obs))
		require.NoError(t, err)
		t.Cleanup(func() {
			_ = e.Close()
			_ = tp.Shutdown(context.Background())
		})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, e.WaitReady(ctx))
		return e, rec
	}
	leader, leaderSpans := traced()
	follower, followerSpans := traced()

	entered, release := make(chan struct{}), make(chan struct{})
	load := func(context.Context, string) (any, error) {
		close(entered)
		<-release
		return "v", nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	led := make(chan error, 1)
	go func() {
		_, err := leader.Get(ctx, "s", load)
		led <- err
	}()
	<-entered
	followed := make(chan error, 1)
	go func() {
		_, err := follower.Get(ctx, "s", func(context.Context, string) (any, error) { return "never", nil })
		followed <- err
	}()
	require.Eventually(t, func() bool { return follower.Stats().FillWaiting == 1 }, 10*time.Second, 5*time.Millisecond)
	close(release)
	require.NoError(t, <-led)
	require.NoError(t, <-followed)

	byName := func(rec *tracetest.SpanRecorder, name string) sdktrace.ReadOnlySpan {
		t.Helper()
		for _, s := range rec.Ended() {
			if s.Name() == name {
				return s
			}
		}
		t.Fatalf("no %s span among %d", name, len(rec.Ended()))
		return nil
	}
	lease, lload := byName(leaderSpans, slotcache.OperationFillLease), byName(leaderSpans, slotcache.OperationLoad)
	assert.Equal(t, lload.SpanContext().SpanID(), lease.Parent().SpanID(), "the lease is part of the load")
	outcome, _ := attr(lease, slotcacheotel.AttrFillOutcome)
	assert.Equal(t, "leader_load", outcome.AsString())

	wait, fload := byName(followerSpans, slotcache.OperationFillWait), byName(followerSpans, slotcache.OperationLoad)
	assert.Equal(t, fload.SpanContext().SpanID(), wait.Parent().SpanID(), "the wait is part of the load")
	outcome, _ = attr(wait, slotcacheotel.AttrFillOutcome)
	assert.Equal(t, "follower_woken", outcome.AsString())
	for _, s := range followerSpans.Ended() {
		assert.NotEqual(t, slotcache.OperationFillLease, s.Name(), "the follower never held the lease")
	}
}
