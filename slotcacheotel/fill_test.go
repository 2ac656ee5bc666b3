package slotcacheotel_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/slotcache/slotcache"
	"github.com/slotcache/slotcache/internal/exporttest"
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

// TestLoaderPanicEndsSpansWithError: a loader that panics, alone and
// inside a fill lease, leaves every span it ran under ended with an error
// status (a trace must show which step failed), the lease's span still a
// child of the load's, and the engine serving the next Get.
func TestLoaderPanicEndsSpansWithError(t *testing.T) {
	srv := redistest.Start(t)
	for _, fill := range []bool{false, true} {
		t.Run(map[bool]string{false: "alone", true: "fill"}[fill], func(t *testing.T) {
			rec := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
			t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
			obs, err := slotcacheotel.NewObserver(slotcacheotel.WithTracerProvider(tp))
			require.NoError(t, err)
			opts := []slotcache.Option{slotcache.WithObserver(obs)}
			if fill {
				opts = append(opts, slotcache.WithRedis(srv.Client(t)), slotcache.WithChannel("slotcacheotel-test:"+t.Name()),
					slotcache.WithFill(slotcache.FillPolicy{}))
			}
			e := exporttest.Engine(t, opts...)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			require.NoError(t, e.WaitReady(ctx))

			_, err = e.Get(ctx, "s", func(context.Context, string) (any, error) { panic("kaboom") })
			require.ErrorContains(t, err, "kaboom")
			v, err := e.Get(ctx, "s", func(context.Context, string) (any, error) { return "v", nil })
			require.NoError(t, err)
			require.Equal(t, "v", v)

			var loads, leases []sdktrace.ReadOnlySpan
			for _, s := range rec.Ended() {
				switch s.Name() {
				case slotcache.OperationLoad:
					loads = append(loads, s)
				case slotcache.OperationFillLease:
					leases = append(leases, s)
				}
			}
			require.Len(t, loads, 2)
			assert.Equal(t, codes.Error, loads[0].Status().Code, "the panicked load")
			assert.Contains(t, loads[0].Status().Description, "kaboom")
			assert.Equal(t, codes.Unset, loads[1].Status().Code, "the next load")
			if !fill {
				assert.Empty(t, leases)
				return
			}
			require.Len(t, leases, 2)
			assert.Equal(t, loads[0].SpanContext().SpanID(), leases[0].Parent().SpanID(), "the lease is part of the load")
			assert.Equal(t, codes.Error, leases[0].Status().Code, "the lease whose load panicked")
			assert.Equal(t, codes.Unset, leases[1].Status().Code, "the next lease")
		})
	}
}
