package slotcache

import (
	"context"
	"crypto/tls"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/internal/redistest"
)

// TestFromEnvTLSFilesFailNew: a TLS file FromEnv cannot use fails New
// with an *OptionError of FromEnv naming the variable, and so do TLS files
// next to a plain redis:// URL, which would leave the link unencrypted.
func TestFromEnvTLSFilesFailNew(t *testing.T) {
	certs := redistest.NewCerts(t)
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	require.NoError(t, os.WriteFile(notPEM, []byte("not a certificate"), 0o600))
	for _, tc := range []struct {
		name, url, cluster, ca, cert, key string
		want                              []string
		is                                error
	}{
		{name: "CA missing", url: "rediss://127.0.0.1:1/0", ca: "/nonexistent/ca.crt", want: []string{"REDIS_TLS_CA_FILE", "/nonexistent/ca.crt"}, is: fs.ErrNotExist},
		{name: "CA not PEM", url: "rediss://127.0.0.1:1/0", ca: notPEM, want: []string{"REDIS_TLS_CA_FILE", "no PEM certificate"}},
		{name: "cert without key", url: "rediss://127.0.0.1:1/0", cert: certs.ClientCertFile, want: []string{"REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE go together"}},
		{name: "key without cert", url: "rediss://127.0.0.1:1/0", key: certs.ClientKeyFile, want: []string{"REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE go together"}},
		{name: "key of another cert", url: "rediss://127.0.0.1:1/0", cert: certs.ClientCertFile, key: certs.ServerKeyFile, want: []string{"REDIS_TLS_CERT_FILE, REDIS_TLS_KEY_FILE", "private key does not match"}},
		{name: "cert missing", url: "rediss://127.0.0.1:1/0", cert: "/nonexistent/c.crt", key: certs.ClientKeyFile, want: []string{"REDIS_TLS_CERT_FILE, REDIS_TLS_KEY_FILE"}, is: fs.ErrNotExist},
		{name: "plain URL", url: "redis://127.0.0.1:1/0", ca: certs.CAFile, want: []string{"REDIS_TLS_CA_FILE", "redis://", "use rediss://"}},
		{name: "plain Sentinel URL", url: "redis://127.0.0.1:1/0?master_name=m", ca: certs.CAFile, want: []string{"use rediss://"}},
		{name: "plain Cluster URL", cluster: "redis://127.0.0.1:1", cert: certs.ClientCertFile, key: certs.ClientKeyFile, want: []string{"use rediss://"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("REDIS_URL", tc.url)
			t.Setenv("REDIS_CLUSTER_URL", tc.cluster)
			t.Setenv("REDIS_TLS_CA_FILE", tc.ca)
			t.Setenv("REDIS_TLS_CERT_FILE", tc.cert)
			t.Setenv("REDIS_TLS_KEY_FILE", tc.key)
			e, err := New(FromEnv())
			require.Nil(t, e)
			var oe *OptionError
			require.ErrorAs(t, err, &oe)
			require.Equal(t, "FromEnv", oe.Option)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
			if tc.is != nil {
				require.ErrorIs(t, err, tc.is)
			}
		})
	}
}

// TestFromEnvRedisURLErrorsHideThePassword: net/url quotes a whole URL in
// its errors, password included; an OptionError ends up in logs, so it
// must say what is wrong without it.
func TestFromEnvRedisURLErrorsHideThePassword(t *testing.T) {
	const secret = "s3cret-in-url"
	for _, tc := range []struct{ variable, url string }{
		{"REDIS_URL", "rediss://u:" + secret + "@127.0.0.1:badport/0"},
		{"REDIS_URL", "rediss://u:" + secret + "@127.0.0.1:badport/0?master_name=m"},
		{"REDIS_URL", "rediss://u:" + secret + "@127.0.0.1:6379/notadb"},
		{"REDIS_CLUSTER_URL", "rediss://u:" + secret + "@127.0.0.1:badport"},
	} {
		t.Setenv("REDIS_URL", "")
		t.Setenv("REDIS_CLUSTER_URL", "")
		t.Setenv(tc.variable, tc.url)
		_, err := New(FromEnv())
		require.ErrorContains(t, err, tc.variable, tc.url)
		require.NotContains(t, err.Error(), secret)
	}
}

// TestFromEnvCredentialsAndTLSReachTheClient checks what the client the
// engine dials gets: REDIS_USERNAME and REDIS_PASSWORD when the URL has no
// credentials of its own (and the URL's when it has), the CA and client
// certificate files on top of the rediss:// URL's TLS settings, and
// WithRedisTLS over both, in the order the options apply; for one server,
// Sentinel (the servers and the sentinels, the engine's own watch
// included) and Cluster.
func TestFromEnvCredentialsAndTLSReachTheClient(t *testing.T) {
	certs := redistest.NewCerts(t)
	mine := &tls.Config{ServerName: "mine.example", MinVersion: tls.VersionTLS13}
	env := func(t *testing.T, url, cluster, user, password, ca string) {
		t.Setenv("REDIS_URL", url)
		t.Setenv("REDIS_CLUSTER_URL", cluster)
		t.Setenv("REDIS_USERNAME", user)
		t.Setenv("REDIS_PASSWORD", password)
		t.Setenv("REDIS_TLS_CA_FILE", ca)
		t.Setenv("REDIS_TLS_CERT_FILE", certs.ClientCertFile)
		t.Setenv("REDIS_TLS_KEY_FILE", certs.ClientKeyFile)
	}
	configured := func(t *testing.T, opts ...Option) config {
		t.Helper()
		cfg, err := configure(defaultConfig(), opts)
		require.NoError(t, err)
		return cfg
	}
	nodeOptions := func(t *testing.T, cfg config) *redis.Options {
		t.Helper()
		c := cfg.dialRedis()
		t.Cleanup(func() { _ = c.Close() })
		return c.(*redis.Client).Options()
	}
	// fromFiles checks a TLS configuration built from the files, on top of
	// a rediss:// URL to host.
	fromFiles := func(t *testing.T, c *tls.Config, host string) {
		t.Helper()
		require.NotNil(t, c)
		require.NotNil(t, c.RootCAs, "REDIS_TLS_CA_FILE")
		require.True(t, c.RootCAs.Equal(certs.Pool), "the CA file's authorities, and only them")
		require.Len(t, c.Certificates, 1, "REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE")
		require.Equal(t, host, c.ServerName, "the URL's host, as go-redis sets it")
		require.GreaterOrEqual(t, c.MinVersion, uint16(tls.VersionTLS12))
	}

	t.Run("node", func(t *testing.T) {
		env(t, "rediss://127.0.0.1:6380/0", "", "envuser", "envpass", certs.CAFile)
		o := nodeOptions(t, configured(t, FromEnv()))
		require.Equal(t, "envuser", o.Username)
		require.Equal(t, "envpass", o.Password)
		fromFiles(t, o.TLSConfig, "127.0.0.1")

		env(t, "rediss://urluser:urlpass@127.0.0.1:6380/0", "", "envuser", "envpass", certs.CAFile)
		o = nodeOptions(t, configured(t, FromEnv()))
		require.Equal(t, "urluser", o.Username, "the URL's credentials win")
		require.Equal(t, "urlpass", o.Password)

		env(t, "rediss://urluser@127.0.0.1:6380/0", "", "envuser", "envpass", certs.CAFile)
		o = nodeOptions(t, configured(t, FromEnv()))
		require.Equal(t, "urluser", o.Username)
		require.Equal(t, "envpass", o.Password, "a URL with a user and no password takes the password from the environment")

		env(t, "rediss://127.0.0.1:6380/0", "", "", "", "")
		t.Setenv("REDIS_TLS_CERT_FILE", "")
		t.Setenv("REDIS_TLS_KEY_FILE", "")
		o = nodeOptions(t, configured(t, FromEnv()))
		require.NotNil(t, o.TLSConfig, "rediss:// alone: TLS with the system's authorities")
		require.Nil(t, o.TLSConfig.RootCAs)
	})

	t.Run("WithRedisTLS", func(t *testing.T) {
		env(t, "rediss://127.0.0.1:6380/0", "", "", "", certs.CAFile)
		o := nodeOptions(t, configured(t, FromEnv(), WithRedisTLS(mine)))
		require.Equal(t, "mine.example", o.TLSConfig.ServerName, "the option applies after FromEnv")
		require.Nil(t, o.TLSConfig.RootCAs)
		require.NotSame(t, mine, o.TLSConfig, "the caller's config is copied, never shared")

		o = nodeOptions(t, configured(t, WithRedisTLS(mine), FromEnv()))
		fromFiles(t, o.TLSConfig, "127.0.0.1") // FromEnv applies last and has TLS files

		env(t, "redis://127.0.0.1:6379/0", "", "", "", "")
		t.Setenv("REDIS_TLS_CERT_FILE", "")
		t.Setenv("REDIS_TLS_KEY_FILE", "")
		o = nodeOptions(t, configured(t, FromEnv(), WithRedisTLS(mine)))
		require.Equal(t, "mine.example", o.TLSConfig.ServerName, "the option turns TLS on whatever the URL's scheme")
	})

	t.Run("sentinel", func(t *testing.T) {
		env(t, "rediss://sentuser:sentpass@127.0.0.1:26379/0?master_name=m&addr=127.0.0.1:26380", "", "envuser", "envpass", certs.CAFile)
		cfg := configured(t, FromEnv())
		o := cfg.failoverOptions()
		require.Equal(t, "sentuser", o.SentinelUsername, "the URL's credentials are the sentinels'")
		require.Equal(t, "sentpass", o.SentinelPassword)
		require.Equal(t, "envuser", o.Username, "the environment's are the servers'")
		require.Equal(t, "envpass", o.Password)
		fromFiles(t, o.TLSConfig, "127.0.0.1")
		w := cfg.sentinelWatch()
		require.Equal(t, "sentuser", w.Username)
		fromFiles(t, w.TLSConfig, "127.0.0.1")

		cfg = configured(t, WithSentinel(&redis.FailoverOptions{MasterName: "m", SentinelAddrs: []string{"127.0.0.1:26379"}}), WithRedisTLS(mine))
		require.Equal(t, "mine.example", cfg.failoverOptions().TLSConfig.ServerName)
	})

	t.Run("cluster", func(t *testing.T) {
		env(t, "", "rediss://127.0.0.1:7000?addr=127.0.0.1:7001", "envuser", "envpass", certs.CAFile)
		cfg := configured(t, FromEnv())
		c := cfg.dialRedis()
		t.Cleanup(func() { _ = c.Close() })
		o := c.(*redis.ClusterClient).Options()
		require.Equal(t, "envuser", o.Username)
		require.Equal(t, "envpass", o.Password)
		require.NotNil(t, o.TLSConfig)
		require.True(t, o.TLSConfig.RootCAs.Equal(certs.Pool))
		require.Len(t, o.TLSConfig.Certificates, 1)
	})
}

// TestWithRedisTLSOptionErrors: WithRedisTLS needs a config, and applies
// to the clients the engine dials only: with a client given by WithRedis
// (an engine's or a named cache's), it would be silently ignored.
func TestWithRedisTLSOptionErrors(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	t.Cleanup(func() { _ = client.Close() })
	for name, opts := range map[string][]Option{
		"nil":                  {WithRedisTLS(nil)},
		"with WithRedis":       {WithRedisTLS(&tls.Config{}), WithRedis(client)},
		"before WithRedis too": {WithRedis(client), WithRedisTLS(&tls.Config{})},
	} {
		e, err := New(opts...)
		require.Nil(t, e, name)
		var oe *OptionError
		require.ErrorAs(t, err, &oe, name)
		require.Equal(t, "WithRedisTLS", oe.Option, name)
	}

	t.Setenv("REDIS_URL", "rediss://127.0.0.1:1/0")
	t.Setenv("REDIS_CLUSTER_URL", "")
	e, err := New(FromEnv(), WithRedisTLS(&tls.Config{}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	load := func(context.Context, string) (any, error) { return 1, nil }
	c, err := NewCache[any](e, "inherits", load)
	require.NoError(t, err, "a named cache uses its engine's client, which WithRedisTLS configured")
	require.NoError(t, c.Close())
	c, err = NewCache[any](e, "own", load, WithRedisTLS(&tls.Config{}))
	require.Nil(t, c)
	var oe *OptionError
	require.ErrorAs(t, err, &oe)
	require.Equal(t, "WithRedisTLS", oe.Option)
}
