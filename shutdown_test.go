package slotcache

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// Shutdown returns at its caller's deadline even when a loader ignores its
// context, and says so; everything else is stopped, and the straggler's
// goroutine ends once its loader returns.
func TestShutdownReturnsAtItsDeadline(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	e, err := New()
	require.NoError(t, err)
	release, entered := make(chan struct{}), make(chan struct{})
	stubborn := func(context.Context, string) (int, error) {
		close(entered)
		<-release // ignores its context
		return 1, nil
	}
	c, err := NewCache(e, "stubborn", stubborn)
	require.NoError(t, err)
	got := make(chan error, 1)
	go func() { _, err := c.Get(context.Background(), "k"); got <- err }()
	<-entered

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err = e.Shutdown(ctx) // would block until release without its ctx
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorContains(t, err, "loaders still running")
	assert.ErrorIs(t, <-got, ErrClosed, "the waiter is not left hanging")
	_, err = c.Get(context.Background(), "k")
	assert.ErrorIs(t, err, ErrClosed, "the engine's caches are closed with it")
	assert.NoError(t, e.Close(), "calls after the first do nothing")
	close(release)
}

// With loaders that honour their context, Shutdown waits for them and
// returns nil.
func TestShutdownWithPoliteLoaders(t *testing.T) {
	e, err := New()
	require.NoError(t, err)
	entered, returned := make(chan struct{}), make(chan struct{})
	polite := func(ctx context.Context, _ string) (any, error) {
		close(entered)
		<-ctx.Done()
		close(returned)
		return nil, ctx.Err()
	}
	go func() { _, _ = e.Get(context.Background(), "k", polite) }()
	<-entered
	assert.NoError(t, e.Shutdown(context.Background()))
	select {
	case <-returned:
	default:
		t.Fatal("Shutdown returned before the loader did")
	}
}

// A batch loader is a loader: Shutdown waits for it as for any other, and
// returns at its deadline with an error when it ignores its context.
func TestShutdownWaitsForBatchLoaders(t *testing.T) {
	e, err := New()
	require.NoError(t, err)
	release, entered := make(chan struct{}), make(chan struct{})
	stubborn := func(context.Context, []string) (map[string]int, error) {
		close(entered)
		<-release // ignores its context
		return nil, nil
	}
	c, err := NewCache[int](e, "stubborn", nil, WithBatch(stubborn, 0))
	require.NoError(t, err)
	got := make(chan error, 1)
	go func() { _, err := c.GetMany(context.Background(), []string{"a", "b"}); got <- err }()
	<-entered

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err = e.Shutdown(ctx)
	close(release)
	require.ErrorIs(t, err, context.DeadlineExceeded, "Shutdown saw the batch loader still running")
	assert.ErrorContains(t, err, "loaders still running")
	assert.ErrorIs(t, <-got, ErrClosed)
}
