package slotcache

import (
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
)

// The environment variables FromEnv reads for the Redis client it dials,
// besides the URLs. The TLS ones are named after redis-server's own
// tls-ca-cert-file, tls-cert-file and tls-key-file directives (and
// redis-cli's --cacert, --cert, --key).
const (
	envUsername = "REDIS_USERNAME"
	envPassword = "REDIS_PASSWORD"
	envCAFile   = "REDIS_TLS_CA_FILE"
	envCertFile = "REDIS_TLS_CERT_FILE"
	envKeyFile  = "REDIS_TLS_KEY_FILE"
)

// dialConfig is what the Redis client New dials (from FromEnv's URL or
// WithSentinel's options) gets besides its address: a TLS configuration
// and credentials. A client given with WithRedis is the caller's, and
// keeps its own.
type dialConfig struct {
	// tls replaces the dialled options' TLSConfig; nil leaves it as the
	// URL or the options say.
	tls *tls.Config
	// tlsOption reports that tls came from WithRedisTLS, which must not
	// be silently lost on a WithRedis client.
	tlsOption bool
	// username and password (REDIS_USERNAME, REDIS_PASSWORD) fill in the
	// dialled options' own when those are empty: a URL keeps its
	// credentials out of the environment's way.
	username, password string
}

// WithRedisTLS makes the Redis client the engine dials (FromEnv's URL, or
// WithSentinel's options) use TLS with cfg, whatever the URL's scheme, for
// every connection: the data connections, the subscription, and, with
// Sentinel, the sentinels and the engine's own watch of +switch-master.
// Use it for what the environment cannot say: certificates from a secret
// store, a custom VerifyConnection, a rotating GetClientCertificate. It
// replaces what FromEnv's REDIS_TLS_* variables configured, or is replaced
// by them, in the order the options apply. An empty ServerName verifies
// each server against the address dialled. A client given with WithRedis
// is configured by its caller: combining the two fails New.
func WithRedisTLS(cfg *tls.Config) Option {
	return func(c *config) error {
		if cfg == nil {
			return optionError("WithRedisTLS", "config is nil")
		}
		c.dial.tls, c.dial.tlsOption = cfg.Clone(), true
		return nil
	}
}

// checkRedisTLS rejects WithRedisTLS on an engine that dials nothing
// because it was given a client: the TLS settings would be ignored.
func (c *config) checkRedisTLS() error {
	if c.dial.tlsOption && c.redis != nil {
		return optionError("WithRedisTLS", "applies to the client the engine dials (FromEnv, WithSentinel), not to one given with WithRedis: set that client's TLSConfig")
	}
	return nil
}

// dialFromEnv reads the credentials and TLS variables. urlTLS is the TLS
// configuration of the URL FromEnv just read (nil for redis://), and
// fromURL whether it read one: TLS files next to a plain redis:// URL are
// a mistake worth failing on, since the connection would go unencrypted.
func (c *config) dialFromEnv(getenv func(string) string, fromURL bool, urlTLS *tls.Config) error {
	if u := getenv(envUsername); u != "" {
		c.dial.username = u
	}
	if p := getenv(envPassword); p != "" {
		c.dial.password = p
	}
	ca, cert, key := getenv(envCAFile), getenv(envCertFile), getenv(envKeyFile)
	if ca == "" && cert == "" && key == "" {
		return nil
	}
	if fromURL && urlTLS == nil {
		return optionError("FromEnv", "%s, %s or %s is set, but the Redis URL is redis://, which does not use TLS: use rediss://", envCAFile, envCertFile, envKeyFile)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if urlTLS != nil {
		cfg = urlTLS.Clone() // its ServerName and skip_verify
	}
	if ca != "" {
		pool, err := readCAFile(ca)
		if err != nil {
			return &OptionError{Option: "FromEnv", Reason: envCAFile + ": " + err.Error(), Err: err}
		}
		cfg.RootCAs = pool
	}
	if (cert == "") != (key == "") {
		return optionError("FromEnv", "%s and %s go together: set both for a client certificate, or neither", envCertFile, envKeyFile)
	}
	if cert != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return &OptionError{Option: "FromEnv", Reason: envCertFile + ", " + envKeyFile + ": " + err.Error(), Err: err}
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	c.dial.tls, c.dial.tlsOption = cfg, false
	return nil
}

// readCAFile returns a pool of the certificates in the PEM file at path:
// the only authorities the client then trusts, as redis-cli's --cacert.
func readCAFile(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no PEM certificate in %s", path)
	}
	return pool, nil
}

// urlError returns err, from parsing a Redis URL, without the URL itself:
// net/url quotes the whole URL, password included, in its errors, and an
// OptionError ends up in logs.
func urlError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// apply sets d on the fields a client's options (redis.Options,
// FailoverOptions, ClusterOptions) have in common: TLS for every
// connection, and the credentials where the options have none. With
// Sentinel, those are the servers' (the URL's user and password are the
// sentinels', as go-redis reads it).
func (d *dialConfig) apply(tlsConfig **tls.Config, username, password *string) {
	if d.tls != nil {
		*tlsConfig = d.tls.Clone()
	}
	*username = cmp.Or(*username, d.username)
	*password = cmp.Or(*password, d.password)
}
