package main

import (
	"bytes"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/internal/redistest"
)

// tlsPassword is the password of tlsEnv's user; the tests check that no
// message quotes a password.
const tlsPassword = "demo-pw-7c1e"

// tlsEnv starts a TLS-only redis-server whose certificate a private
// authority signed, adds a user "demo" with the rights the engines need,
// and configures the environment as the README's "Redis TLS and ACL" says:
// REDIS_URL=rediss://demo@host/0 (the user only), REDIS_PASSWORD, and
// REDIS_TLS_CA_FILE. A client that reads REDIS_URL alone neither trusts the
// server nor logs in. It returns the server's address.
func tlsEnv(t *testing.T) (*redistest.Server, string) {
	t.Helper()
	certs := redistest.NewCerts(t)
	s := redistest.StartTLS(t, certs, redistest.ClientCertNo)
	s.SetUser(t, "demo", "reset", "on", ">"+tlsPassword,
		"&slotcache:*", "+subscribe", "+unsubscribe", "+publish")
	u, err := url.Parse(s.URL())
	require.NoError(t, err)
	require.Equal(t, "rediss", u.Scheme)
	u.User = url.User("demo")
	t.Setenv("REDIS_URL", u.String())
	t.Setenv("REDIS_CLUSTER_URL", "")
	t.Setenv("REDIS_USERNAME", "")
	t.Setenv("REDIS_PASSWORD", tlsPassword)
	t.Setenv("REDIS_TLS_CA_FILE", certs.CAFile)
	t.Setenv("REDIS_TLS_CERT_FILE", "")
	t.Setenv("REDIS_TLS_KEY_FILE", "")
	return s, s.Addr()
}

// TestDemoCrossInstanceTLSFromEnv: the demo's engines reach Redis through
// FromEnv, so a Redis they reach (TLS with a private authority, the
// password from REDIS_PASSWORD) must pass the demo's check too, and the
// cross-instance part must run.
func TestDemoCrossInstanceTLSFromEnv(t *testing.T) {
	s, _ := tlsEnv(t)
	cfg := smallConfig()
	var out bytes.Buffer
	rep, err := runDemo(testContext(t), cfg, &out)
	require.NoError(t, err, "output:\n%s", out.String())
	require.NotNil(t, rep.Cross, "cross-instance part did not run:\n%s", out.String())
	assert.Equal(t, uint64(cfg.CrossRounds), rep.Cross.B.CrossProcessInvalidations)
	assert.Contains(t, out.String(), "Cross-instance invalidation")
	for _, d := range s.ACLDenials(t) {
		// Redis 7.2 and later refuse go-redis's CLIENT SETINFO, which it
		// ignores (see the README); nothing else may be refused.
		assert.Contains(t, d, "setinfo", "the check needs no right the engines do not")
	}
}

// refusals are ways Redis refuses a client that reaches it, each changing
// tlsEnv's environment, and what the message must name.
var refusals = []struct {
	name  string
	spoil func(t *testing.T, s *redistest.Server)
	want  string
}{
	{"wrong password", func(t *testing.T, _ *redistest.Server) {
		t.Setenv("REDIS_PASSWORD", "hunter2-wrong")
	}, "WRONGPASS"},
	{"untrusted certificate", func(t *testing.T, _ *redistest.Server) {
		t.Setenv("REDIS_TLS_CA_FILE", "") // the system's authorities do not know the test's
	}, "certificate"},
	{"missing right", func(t *testing.T, s *redistest.Server) {
		s.SetUser(t, "demo", "reset", "on", ">"+tlsPassword) // no SUBSCRIBE
	}, "NOPERM"},
}

// TestDemoRedisRefused: when Redis answers but refuses the engines, the
// demo fails before running anything, saying what Redis refused (not that
// it cannot reach it), with the URL redacted and no password.
func TestDemoRedisRefused(t *testing.T) {
	refusedBeforeRunning(t, []string{"demo", "-workers", "2", "-requests", "2"},
		func(addr string) []string { return []string{"REDIS_URL=rediss://demo@" + addr, "unset REDIS_URL"} })
}

// refusedBeforeRunning runs the command args once for each of refusals and
// checks that it fails before writing anything to stdout, with a message
// that says Redis refused it and why, and the URL's words of also(addr)
// for a server at addr, and that quotes no password.
func refusedBeforeRunning(t *testing.T, args []string, also func(addr string) []string) {
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			s, addr := tlsEnv(t)
			tc.spoil(t, s)
			var stdout, stderr bytes.Buffer
			code := run(testContext(t), args, &stdout, &stderr)
			assert.Equal(t, exitFail, code)
			msg := stderr.String()
			for _, want := range append([]string{"refused", tc.want}, also(addr)...) {
				assert.Contains(t, msg, want)
			}
			assert.NotContains(t, msg, "cannot reach")
			assert.NotContains(t, msg, "hunter2")
			assert.NotContains(t, msg, tlsPassword)
			assert.Empty(t, stdout.String(), "the command ran although Redis refuses it")
		})
	}
}

// TestBenchTLSFromEnv: bench takes REDIS_URL by default, and then
// everything FromEnv honours with it, for its check and its instances.
func TestBenchTLSFromEnv(t *testing.T) {
	tlsEnv(t)
	var stdout, stderr bytes.Buffer
	code := run(testContext(t), []string{"bench", "-instances", "2", "-duration", "300ms", "-keys", "20",
		"-workers", "2", "-load-latency", "0s", "-invalidate-rate", "50"}, &stdout, &stderr)
	require.Equal(t, exitOK, code, stderr.String())
	assert.Contains(t, stdout.String(), "invalidation lag")
}

// TestBenchRedisRefused: bench's check says what Redis refused, too.
func TestBenchRedisRefused(t *testing.T) {
	refusedBeforeRunning(t, []string{"bench", "-instances", "2", "-duration", "1s"},
		func(addr string) []string { return []string{"rediss://demo@" + addr} })
}

// TestRedisCheckHidesURLPassword: a password in the URL itself is redacted
// in the refusal message as in the unreachable one.
func TestRedisCheckHidesURLPassword(t *testing.T) {
	_, addr := tlsEnv(t)
	t.Setenv("REDIS_PASSWORD", "")
	t.Setenv("REDIS_URL", "rediss://demo:hunter2-in-url@"+addr+"/0")
	var stdout, stderr bytes.Buffer
	require.Equal(t, exitFail, run(testContext(t), []string{"demo"}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "WRONGPASS")
	assert.NotContains(t, stderr.String(), "hunter2")
	assert.True(t, strings.Contains(stderr.String(), "rediss://demo:xxxxx@"+addr), stderr.String())
}

// TestBenchOtherURLRefused: a -redis other than REDIS_URL is dialled as
// it says, without the environment's TLS files: refused on the server's
// certificate, bench says so, and that the environment did not apply.
func TestBenchOtherURLRefused(t *testing.T) {
	s, addr := tlsEnv(t)
	t.Setenv("REDIS_URL", "")
	var stdout, stderr bytes.Buffer
	code := run(testContext(t), []string{"bench", "-instances", "2", "-duration", "1s",
		"-redis", s.UserURL("demo", "hunter2-in-url")}, &stdout, &stderr)
	assert.Equal(t, exitFail, code)
	msg := stderr.String()
	for _, want := range []string{"refused", "certificate", "rediss://demo:xxxxx@" + addr, "other than $REDIS_URL"} {
		assert.Contains(t, msg, want)
	}
	assert.NotContains(t, msg, "hunter2")
	assert.Empty(t, stdout.String())
}
