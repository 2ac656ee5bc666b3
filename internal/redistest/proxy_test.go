package redistest

import (
	"bufio"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// proxiedClient returns a single-connection client through p whose reads
// give up quickly, so a frozen connection shows up as a fast timeout.
func proxiedClient(t *testing.T, p *Proxy) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:         p.Addr(),
		PoolSize:     1,
		MaxRetries:   -1,
		ReadTimeout:  200 * time.Millisecond,
		WriteTimeout: 200 * time.Millisecond,
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// rawPing sends PING over conn and returns the reply line.
func rawPing(t *testing.T, conn net.Conn, r *bufio.Reader, timeout time.Duration) (string, error) {
	t.Helper()
	require.NoError(t, conn.SetDeadline(time.Now().Add(timeout)))
	if _, err := io.WriteString(conn, "PING\r\n"); err != nil {
		return "", err
	}
	return r.ReadString('\n')
}

func dialProxy(t *testing.T, p *Proxy) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn, bufio.NewReader(conn)
}

// requireClosed asserts that the proxy closed conn: reads fail promptly with
// EOF or a reset (if unread bytes were pending), never with a timeout.
func requireClosed(t *testing.T, conn net.Conn, r *bufio.Reader) {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(2*time.Second)))
	_, err := r.ReadString('\n')
	require.Error(t, err)
	var ne net.Error
	if errors.As(err, &ne) {
		require.False(t, ne.Timeout(), "connection is silent instead of closed: %v", err)
	}
}

func TestProxyForwards(t *testing.T) {
	t.Parallel()
	s := Start(t)
	p := NewProxy(t, s.Addr())
	ctx := testCtx(t)

	c := proxiedClient(t, p)
	require.NoError(t, c.Set(ctx, "k", "v", 0).Err())
	assert.Equal(t, "v", s.Client(t).Get(ctx, "k").Val(), "write through the proxy reaches the server")
}

func TestProxyFreeze(t *testing.T) {
	t.Parallel()
	s := Start(t)
	p := NewProxy(t, s.Addr())
	ctx := testCtx(t)

	frozen := proxiedClient(t, p)
	require.NoError(t, frozen.Ping(ctx).Err()) // establish the pooled conn

	p.Freeze()
	start := time.Now()
	err := frozen.Ping(ctx).Err()
	require.Error(t, err)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout(), "want a read timeout, got %v", err)
	assert.Less(t, time.Since(start), 2*time.Second)

	// Connections made after the freeze are unaffected.
	fresh := proxiedClient(t, p)
	require.NoError(t, fresh.Ping(ctx).Err())
	// go-redis discarded the timed-out conn, so redialing recovers too.
	require.NoError(t, frozen.Ping(ctx).Err())
}

func TestProxyUnfreezeDeliversHeldBytes(t *testing.T) {
	t.Parallel()
	s := Start(t)
	p := NewProxy(t, s.Addr())
	conn, r := dialProxy(t, p)

	reply, err := rawPing(t, conn, r, 2*time.Second)
	require.NoError(t, err)
	require.Equal(t, "+PONG\r\n", reply)

	p.Freeze()
	_, err = rawPing(t, conn, r, 100*time.Millisecond)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	require.True(t, ne.Timeout(), "frozen conn must stay silent, got %v", err)

	p.Unfreeze()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(2*time.Second)))
	reply, err = r.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "+PONG\r\n", reply, "the PING sent while frozen is answered after Unfreeze")
}

func TestProxyCutAll(t *testing.T) {
	t.Parallel()
	s := Start(t)
	p := NewProxy(t, s.Addr())
	conn, r := dialProxy(t, p)

	reply, err := rawPing(t, conn, r, 2*time.Second)
	require.NoError(t, err)
	require.Equal(t, "+PONG\r\n", reply)

	p.CutAll()
	requireClosed(t, conn, r)

	// The proxy keeps serving new connections.
	conn2, r2 := dialProxy(t, p)
	reply, err = rawPing(t, conn2, r2, 2*time.Second)
	require.NoError(t, err)
	assert.Equal(t, "+PONG\r\n", reply)
}

func TestProxyFrozenThenClosedDoesNotLeak(t *testing.T) {
	t.Parallel()
	s := Start(t)
	p := NewProxy(t, s.Addr())
	conn, r := dialProxy(t, p)
	_, err := rawPing(t, conn, r, 2*time.Second)
	require.NoError(t, err)

	p.Freeze()
	// Leave a request stuck behind the freeze; Close must still unblock
	// every goroutine (goleak in TestMain checks this).
	_, err = io.WriteString(conn, "PING\r\n")
	require.NoError(t, err)
	p.Close()
	p.Close() // idempotent

	requireClosed(t, conn, r)
	_, err = net.DialTimeout("tcp", p.Addr(), time.Second)
	require.Error(t, err, "closed proxy must not accept")
}
