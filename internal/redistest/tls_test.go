package redistest

import (
	"context"
	"crypto/tls"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// TestStartTLS: a TLS server answers the package's own client (TLS, client
// certificate, administrator's password) across a Restart, closes its
// plain port, refuses a client that does not trust its authority or that
// has no certificate when it requires one, and lets no one in without a
// password.
func TestStartTLS(t *testing.T) {
	t.Parallel()
	certs := NewCerts(t)
	s := StartTLS(t, certs, ClientCertRequired)
	ctx := testCtx(t)
	require.NoError(t, s.Client(t).Ping(ctx).Err())
	require.Equal(t, "rediss://"+s.Addr()+"/0", s.URL())
	opt, err := redis.ParseURL(s.UserURL("u", "p w"))
	require.NoError(t, err)
	require.Equal(t, "u", opt.Username)
	require.Equal(t, "p w", opt.Password)
	require.NotNil(t, opt.TLSConfig)

	try := func(o *redis.Options) error {
		o.Addr, o.MaxRetries, o.DialTimeout = s.Addr(), -1, time.Second
		c := redis.NewClient(o)
		defer func() { _ = c.Close() }()
		return c.Ping(ctx).Err()
	}
	require.Error(t, try(&redis.Options{Password: s.password}), "the plain port is closed")
	require.ErrorContains(t, try(&redis.Options{Password: s.password, TLSConfig: NewCerts(t).ClientConfig()}),
		"certificate signed by unknown authority")
	require.ErrorContains(t, try(&redis.Options{Password: s.password, TLSConfig: &tls.Config{RootCAs: certs.Pool}}),
		"certificate required")
	require.ErrorContains(t, try(&redis.Options{TLSConfig: certs.ClientConfig()}), "NOAUTH")

	s.Restart()
	require.NoError(t, s.Client(t).Ping(ctx).Err())
}

// TestSetUserAndACLDenials: a user made with SetUser gets exactly its
// rights, and what Redis refuses it shows in ACLDenials until
// ResetACLLog.
func TestSetUserAndACLDenials(t *testing.T) {
	t.Parallel()
	s := Start(t)
	s.SetUser(t, "app", "reset", "on", ">pw", "~app:*", "&app", "+get", "+publish")
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), Username: "app", Password: "pw"})
	t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()
	require.ErrorIs(t, c.Get(ctx, "app:k").Err(), redis.Nil)
	require.NoError(t, c.Publish(ctx, "app", "x").Err())
	require.Error(t, c.Get(ctx, "other").Err())
	require.Error(t, c.Set(ctx, "app:k", 1, 0).Err())
	require.Error(t, c.Publish(ctx, "other", "x").Err())
	require.ElementsMatch(t, []string{"key other app", "command set app", "channel other app"}, s.ACLDenials(t))
	s.ResetACLLog(t)
	require.Empty(t, s.ACLDenials(t))
}
