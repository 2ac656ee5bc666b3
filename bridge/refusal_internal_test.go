package bridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// TestRefusedTellsRefusalsFromNetworkFailures: what retrying cannot cure
// is a refusal; a dead link, a timeout or a cancelled call is not, or an
// outage would be logged at Error as a configuration mistake.
func TestRefusedTellsRefusalsFromNetworkFailures(t *testing.T) {
	for _, err := range []error{
		nil,
		io.EOF,
		context.DeadlineExceeded,
		context.Canceled,
		redis.ErrClosed,
		&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")},
		&net.OpError{Op: "read", Net: "tcp", Err: io.ErrUnexpectedEOF},
		errors.New("LOADING Redis is loading the dataset in memory"),
	} {
		require.False(t, Refused(err), "%v", err)
	}
	for _, err := range []error{
		errors.New("NOPERM this user has no permissions to run the 'publish' command"),
		errors.New("WRONGPASS invalid username-password pair or user is disabled."),
		errors.New("NOAUTH Authentication required."),
		errors.New("ERR Error running script (call to f_x): @user_script:1: The user executing the script can't access at least one of the keys"),
		fmt.Errorf("dial: %w", &net.OpError{Op: "remote error", Err: errors.New("tls: certificate required")}),
	} {
		require.True(t, Refused(err), "%v", err)
	}
}

// TestRefusalBookkeeping: a success clears only its own command's
// refusal, Refusal returns the newest, and the standing refusals are
// bounded (answers to confirmations use one channel per asking instance).
func TestRefusalBookkeeping(t *testing.T) {
	b := &Bridge{cfg: Config{Logger: slog.New(slog.DiscardHandler)}}
	noperm := errors.New("NOPERM this user has no permissions to run the 'publish' command")
	require.Nil(t, b.Refusal())
	require.True(t, b.checkRefusal("PUBLISH a", "PUBLISH a", noperm))
	require.True(t, b.checkRefusal("PUBLISH b", "PUBLISH b", noperm))
	require.Equal(t, "PUBLISH b", b.Refusal().Command)
	require.False(t, b.checkRefusal("PUBLISH b", "PUBLISH b", nil))
	require.Equal(t, "PUBLISH a", b.Refusal().Command, "a's refusal stands")
	require.False(t, b.checkRefusal("PUBLISH a", "PUBLISH a", io.EOF), "a network failure is no refusal")
	require.Equal(t, "PUBLISH a", b.Refusal().Command, "nor does it clear one")
	require.False(t, b.checkRefusal("PUBLISH a", "PUBLISH a", nil))
	require.Nil(t, b.Refusal())

	for i := range 3 * maxRefusals {
		k := fmt.Sprintf("PUBLISH ack:%d", i)
		b.checkRefusal(k, k, noperm)
	}
	require.Len(t, b.refusals.now, maxRefusals)
	require.Equal(t, fmt.Sprintf("PUBLISH ack:%d", 3*maxRefusals-1), b.Refusal().Command)
}

// TestGaveUpNamesTheRefusal: a publish abandoned at its deadline carries
// its own refusal, or the connection's, but not another command's NOPERM,
// which says nothing about why this one timed out.
func TestGaveUpNamesTheRefusal(t *testing.T) {
	b := &Bridge{cfg: Config{Logger: slog.New(slog.DiscardHandler)}}
	require.Equal(t, context.DeadlineExceeded, b.gaveUp("c", context.DeadlineExceeded))

	b.checkRefusal(subscribeKey, "SUBSCRIBE c", errors.New("NOPERM User has no permissions to access the 'c' channel"))
	require.Equal(t, context.DeadlineExceeded, b.gaveUp("c", context.DeadlineExceeded), "another command's NOPERM")

	b.checkRefusal("PUBLISH c", "PUBLISH c", errors.New("NOPERM this user has no permissions to run the 'publish' command"))
	err := b.gaveUp("c", context.DeadlineExceeded)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "PUBLISH c: NOPERM")
	require.Equal(t, context.DeadlineExceeded, b.gaveUp("d", context.DeadlineExceeded), "another channel's NOPERM")

	b.checkRefusal(subscribeKey, "SUBSCRIBE c", errors.New("WRONGPASS invalid username-password pair"))
	err = b.gaveUp("d", context.DeadlineExceeded)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	var r *Refusal
	require.ErrorAs(t, err, &r)
	require.Equal(t, "SUBSCRIBE c", r.Command, "the connection's refusal meets every command")
}
