package slotcache

// Tests of TLS and ACL users against a real redis-server that speaks only
// TLS (internal/redistest.StartTLS), as the user the README documents:
// everything works with exactly those rights, Redis refuses nothing, and
// each right removed fails clearly. Helpers carry a tls prefix.

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/slotcache/slotcache/internal/logtest"
	"github.com/slotcache/slotcache/internal/redistest"
)

// tlsUser is the ACL user of these tests, as in the README's rule.
const tlsUser = "slotcache"

// tlsPassword is its password. Tests check it never shows in logs.
const tlsPassword = "tls-test-s3cret"

// tlsReadmeRule returns the README's ACL SETUSER rule for the user, with
// fill (the line with key patterns) or without, with tlsPassword in place
// of <password>: the tests run what the README tells operators to run.
func tlsReadmeRule(t *testing.T, withFill bool) []string {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	prefix := "ACL SETUSER " + tlsUser + " "
	for line := range strings.SplitSeq(string(readme), "\n") {
		if !strings.HasPrefix(line, prefix+"reset") || strings.Contains(line, "~") != withFill {
			continue
		}
		rule := strings.Fields(strings.TrimPrefix(line, prefix))
		for i, r := range rule {
			rule[i] = strings.ReplaceAll(r, "<password>", tlsPassword)
		}
		return rule
	}
	t.Fatalf("README.md has no %q line (with fill: %v)", prefix+"reset ...", withFill)
	return nil
}

// without returns rule without the rights in drop, failing if one is not
// in it: a test that removes a right the rule does not grant proves
// nothing.
func without(t *testing.T, rule []string, drop ...string) []string {
	t.Helper()
	for _, d := range drop {
		require.Contains(t, rule, d, "the README's rule grants %s", d)
	}
	return slices.DeleteFunc(slices.Clone(rule), func(r string) bool { return slices.Contains(drop, r) })
}

// tlsLog records the engines' logs with values quoted, so that a part
// can match a value's start: `command="PUBLISH x`.
type tlsLog = logtest.Recorder

// The refusal log line, as the bridge writes it.
const (
	tlsRefused      = "ERROR slotcache: Redis refused a command"
	tlsRefusedAgain = "DEBUG slotcache: Redis refused a command again"
)

// tlsEnv sets FromEnv's variables for the test: url, and the CA, client
// certificate and key files ("" unsets one). Credentials come from the URL.
func tlsEnv(t *testing.T, url, ca, cert, key string) {
	t.Setenv("REDIS_URL", url)
	t.Setenv("REDIS_CLUSTER_URL", "")
	t.Setenv("REDIS_USERNAME", "")
	t.Setenv("REDIS_PASSWORD", "")
	t.Setenv("REDIS_TLS_CA_FILE", ca)
	t.Setenv("REDIS_TLS_CERT_FILE", cert)
	t.Setenv("REDIS_TLS_KEY_FILE", key)
}

// tlsEngine returns an engine configured from the environment with
// opts, logging to log, closed at the end of the test.
func tlsEngine(t *testing.T, log *tlsLog, opts ...Option) *Engine {
	t.Helper()
	all := append([]Option{FromEnv(), WithTTL(time.Hour), WithHeartbeat(100 * time.Millisecond), WithLogger(slog.New(log))}, opts...)
	e, err := New(all...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// commandsUsed returns the commands redis-server ran since its stats were
// reset (INFO commandstats), without the administrator's own.
func commandsUsed(t *testing.T, srv *redistest.Server) []string {
	t.Helper()
	info, err := srv.Client(t).Info(context.Background(), "commandstats").Result()
	require.NoError(t, err)
	var used []string
	for _, m := range regexp.MustCompile(`(?m)^cmdstat_([a-z|_-]+):calls=(\d+)`).FindAllStringSubmatch(info, -1) {
		if m[1] != "info" && m[1] != "config|resetstat" && m[1] != "acl|log" && m[2] != "0" {
			used = append(used, m[1])
		}
	}
	slices.Sort(used)
	return used
}

// TestRedisTLSACLEndToEnd: two engines reach a redis-server that speaks
// only TLS and asks for client certificates, one configured by FromEnv
// alone (rediss:// URL with the user, CA, certificate and key files), the
// other by a URL without credentials, REDIS_USERNAME and REDIS_PASSWORD,
// and WithRedisTLS; both as the README's ACL user, with fill. Every
// feature works: cross-instance invalidation, the shared fill tier, the
// heartbeat's watermark, confirmed invalidation, named caches, and
// InvalidateAll. Redis refuses them nothing (ACL LOG empty), the commands
// they ran are exactly those the rule grants (none unused: the rule is no
// wider than needed), and nothing leaks at Close.
func TestRedisTLSACLEndToEnd(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	certs := redistest.NewCerts(t)
	srv := redistest.StartTLS(t, certs, redistest.ClientCertRequired)
	rule := tlsReadmeRule(t, true)
	srv.SetUser(t, tlsUser, rule...)
	require.NoError(t, srv.Client(t).ConfigResetStat(context.Background()).Err())
	ctx, cancel := context.WithTimeout(context.Background(), rtWait)
	defer cancel()

	logA, logB := tlsLog{Quote: true}, tlsLog{Quote: true}
	tlsEnv(t, srv.UserURL(tlsUser, tlsPassword), certs.CAFile, certs.ClientCertFile, certs.ClientKeyFile)
	a := tlsEngine(t, &logA, WithFill(FillPolicy{}))
	tlsEnv(t, srv.URL(), "", "", "")
	t.Setenv("REDIS_USERNAME", tlsUser)
	t.Setenv("REDIS_PASSWORD", tlsPassword)
	b := tlsEngine(t, &logB, WithFill(FillPolicy{}), WithRedisTLS(certs.ClientConfig()))
	rtReady(t, a)
	rtReady(t, b)

	// The shared tier: b finds what a loaded.
	var l rtLoader
	require.Equal(t, "s#1", rtGet(t, a, "s", &l))
	require.Equal(t, "s#1", rtGet(t, b, "s", &l))
	require.EqualValues(t, 1, b.Stats().FillSharedHits, "b read a's shared copy")
	require.EqualValues(t, 1, l.calls.Load())

	// The heartbeat's echo comes back: the watermark advances.
	for _, e := range []*Engine{a, b} {
		w := e.env.LastWatermark()
		require.Eventually(t, func() bool { return e.env.LastWatermark() > w }, rtWait, rtPoll, "the heartbeat's watermark does not advance")
		require.True(t, e.Stats().Subscribed)
	}

	// A confirmed invalidation: applied on b by the time it returns.
	require.NoError(t, a.InvalidateConfirmed(ctx, "s"))
	require.False(t, b.Cached("s"))
	require.Equal(t, "s#2", rtGet(t, b, "s", &l), "the shared copy went with the invalidation")

	// Named caches: their channels and fill keys are under the engine's.
	ca, err := NewCache[any](a, "named", l.load, WithFill(FillPolicy{}))
	require.NoError(t, err)
	cb, err := NewCache[any](b, "named", l.load, WithFill(FillPolicy{}))
	require.NoError(t, err)
	rtReady(t, ca.e)
	rtReady(t, cb.e)
	v, err := ca.Get(ctx, "n")
	require.NoError(t, err)
	w, err := cb.Get(ctx, "n")
	require.NoError(t, err)
	require.Equal(t, v, w, "cb read ca's shared copy")
	require.NoError(t, ca.Invalidate(ctx, "n"))
	require.Eventually(t, func() bool { return !cb.e.Cached("n") }, rtWait, rtPoll)
	require.NoError(t, ca.Close()) // UNSUBSCRIBE
	require.NoError(t, cb.Close())

	// InvalidateAll crosses too.
	rtGet(t, a, "t", &l)
	require.NoError(t, b.InvalidateAll(ctx))
	require.Eventually(t, func() bool { return !a.Cached("t") && !a.Cached("s") }, rtWait, rtPoll)

	for _, e := range []*Engine{a, b} {
		require.Empty(t, e.Stats().RedisRefusal)
	}
	require.Empty(t, srv.ACLDenials(t), "Redis refused the documented user something")
	granted := []string{}
	for _, r := range rule {
		if c, ok := strings.CutPrefix(r, "+"); ok {
			granted = append(granted, c)
		}
	}
	slices.Sort(granted)
	// HELLO needs no right: Redis lets any connection authenticate.
	require.Equal(t, granted, slices.DeleteFunc(commandsUsed(t, srv), func(c string) bool { return c == "hello" }),
		"the commands the engines ran are not exactly those the rule grants")

	for _, log := range []*tlsLog{&logA, &logB} {
		require.NotContains(t, log.String(), tlsPassword)
		require.Zero(t, log.Count("ERROR"), "%s", log)
	}
	require.NoError(t, a.Close())
	require.NoError(t, b.Close())
	srv.Kill()
	goleak.VerifyNone(t, ignore, goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"))
}

// TestRedisACLRefusalsAreClear removes one right at a time from the
// README's rule (or breaks the credentials or the trust) and checks that
// the failure says what is wrong, where an operator looks: an Error log
// line naming the command, written once however often the engine retries,
// Stats.RedisRefusal, the error of Invalidate, or the fill's Warn line;
// and, where the right comes back, that the engine recovers by itself.
func TestRedisACLRefusalsAreClear(t *testing.T) {
	certs := redistest.NewCerts(t)
	full := tlsReadmeRule(t, true)
	url := func(srv *redistest.Server) string { return srv.UserURL(tlsUser, tlsPassword) }
	start := func(t *testing.T, rule []string) *redistest.Server {
		srv := redistest.StartTLS(t, certs, redistest.ClientCertOptional)
		srv.SetUser(t, tlsUser, rule...)
		return srv
	}
	ctx := func(t *testing.T) context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), rtWait)
		t.Cleanup(cancel)
		return ctx
	}
	// refusedOnce waits until the refusal of command was logged and then
	// repeated (retried) twice, and checks it was logged at Error once.
	refusedOnce := func(t *testing.T, log *tlsLog, command string, parts ...string) {
		t.Helper()
		want := append([]string{`command="` + command}, parts...)
		require.Eventually(t, func() bool { return log.Count(tlsRefusedAgain, want...) >= 2 }, rtWait, rtPoll, "%s", log)
		require.Equal(t, 1, log.Count(tlsRefused, want...), "%s", log)
		require.NotContains(t, log.String(), tlsPassword)
	}
	refusal := func(e *Engine, parts ...string) func() bool {
		return func() bool {
			r := e.Stats().RedisRefusal
			for _, p := range parts {
				if !strings.Contains(r, p) {
					return false
				}
			}
			return r != ""
		}
	}

	// fillDegraded starts Redis without right and an engine with fill on
	// it, and checks that its first miss degrades the fill, with a Warn
	// line that says what Redis refused.
	fillDegraded := func(t *testing.T, right string, words ...string) (*redistest.Server, *Engine, *tlsLog) {
		t.Helper()
		srv := start(t, without(t, full, right))
		tlsEnv(t, url(srv), certs.CAFile, "", "")
		log := &tlsLog{Quote: true}
		e := tlsEngine(t, log, WithFill(FillPolicy{}))
		rtReady(t, e)
		var l rtLoader
		rtGet(t, e, "s", &l)
		require.EqualValues(t, 1, e.Stats().FillDegraded)
		require.Equal(t, 1, log.Count("WARN slotcache: fill", append([]string{`outcome="degraded"`}, words...)...), "%s", log)
		return srv, e, log
	}

	t.Run("publish", func(t *testing.T) {
		srv := start(t, without(t, full, "+publish"))
		tlsEnv(t, url(srv), certs.CAFile, "", "")
		log := tlsLog{Quote: true}
		e := tlsEngine(t, &log, WithFill(FillPolicy{}))
		var l rtLoader
		c, err := NewCache[any](e, "named", l.load, WithFill(FillPolicy{}))
		require.NoError(t, err)
		rtReady(t, e)
		rtReady(t, c.e)
		err = e.Invalidate(ctx(t), "s")
		require.ErrorIs(t, err, ErrQueued)
		require.ErrorContains(t, err, "no permissions to run the 'publish' command")
		refusedOnce(t, &log, "PUBLISH slotcache:invalidate:heartbeat:", "'publish'")
		require.Equal(t, 1, log.Count(tlsRefused, `command="PUBLISH slotcache:invalidate"`), "%s", &log)
		require.Eventually(t, refusal(e, "PUBLISH slotcache:invalidate", "'publish'"), rtWait, rtPoll)
		require.Eventually(t, func() bool { return e.Stats().HeartbeatMisses > 0 }, rtWait, rtPoll,
			"without its heartbeat, the subscription is resynced")

		// The named cache's channel is refused too, logged once under its
		// own name, and shows in the named cache's Stats.
		err = c.Invalidate(ctx(t), "n")
		require.ErrorIs(t, err, ErrQueued)
		require.ErrorContains(t, err, "'publish'")
		require.Eventually(t, func() bool { return log.Count(tlsRefusedAgain, `command="PUBLISH slotcache:invalidate:named"`) >= 1 }, rtWait, rtPoll, "%s", &log)
		require.Equal(t, 1, log.Count(tlsRefused, `command="PUBLISH slotcache:invalidate:named"`), "%s", &log)
		require.True(t, refusal(c.e, "PUBLISH", "'publish'")())

		srv.SetUser(t, tlsUser, "+publish")
		for _, e := range []*Engine{e, c.e} {
			require.Eventually(t, func() bool { st := e.Stats(); return st.RedisRefusal == "" && st.OutboxSize == 0 }, rtWait, rtPoll,
				"the right is back, yet the refusal stays or the invalidation is still queued")
			require.Positive(t, e.Stats().OutboxRetried)
		}
	})

	t.Run("channel pattern", func(t *testing.T) {
		srv := start(t, without(t, full, "&slotcache:invalidate:*"))
		tlsEnv(t, url(srv), certs.CAFile, "", "")
		log := tlsLog{Quote: true}
		e := tlsEngine(t, &log)
		refusedOnce(t, &log, "SUBSCRIBE slotcache:invalidate:heartbeat:", "NOPERM", "channels")
		require.True(t, refusal(e, "SUBSCRIBE", "channels")())
		require.False(t, e.Stats().Subscribed)

		srv.SetUser(t, tlsUser, "&slotcache:invalidate:*")
		rtReady(t, e)
		require.Eventually(t, func() bool { return e.Stats().RedisRefusal == "" }, rtWait, rtPoll)
	})

	t.Run("subscribe", func(t *testing.T) {
		srv := start(t, without(t, full, "+subscribe"))
		tlsEnv(t, url(srv), certs.CAFile, "", "")
		log := tlsLog{Quote: true}
		e := tlsEngine(t, &log)
		refusedOnce(t, &log, "SUBSCRIBE ", "'subscribe'")
		require.True(t, refusal(e, "SUBSCRIBE", "'subscribe'")())
	})

	t.Run("key patterns", func(t *testing.T) {
		_, e, log := fillDegraded(t, "~{slotcache:invalidate:*", "NOPERM", "keys")

		err := e.Invalidate(ctx(t), "s")
		require.ErrorIs(t, err, ErrQueued)
		require.ErrorContains(t, err, "drop shared copy")
		require.ErrorContains(t, err, "NOPERM")
		refusedOnce(t, log, "prepare PUBLISH slotcache:invalidate", "keys")
		require.True(t, refusal(e, "prepare PUBLISH slotcache:invalidate", "NOPERM")())
	})

	t.Run("evalsha", func(t *testing.T) {
		srv, e, log := fillDegraded(t, "+evalsha", "'evalsha'")
		// Every miss degrades while it lasts: the refusal is the engine's,
		// for the gauge and the Error log, as a refused PUBLISH is.
		require.True(t, refusal(e, "fill", "'evalsha'")(), "RedisRefusal %q", e.Stats().RedisRefusal)
		require.Equal(t, 1, log.Count(tlsRefused, `command="fill`, "'evalsha'"), "%s", log)

		srv.SetUser(t, tlsUser, "+evalsha")
		var l rtLoader
		n := 0
		require.Eventually(t, func() bool { // misses probe Redis past the breaker's cool-down
			n++
			rtGet(t, e, fmt.Sprint("after-", n), &l)
			return e.Stats().RedisRefusal == ""
		}, rtWait, rtPoll, "the right is back, yet the fill's refusal stays")
	})

	// Credentials or trust broken: the subscription is refused with Redis's
	// or the handshake's own words, and an invalidation is queued.
	for _, tc := range []struct {
		name string
		auth redistest.AuthClients
		url  func(srv *redistest.Server) string
		ca   func() string
		want string
		// fix, if not nil, mends the server's side: the engine must then
		// recover by itself.
		fix func(srv *redistest.Server)
	}{
		{"wrong password", redistest.ClientCertOptional,
			func(srv *redistest.Server) string { return srv.UserURL(tlsUser, "not-"+tlsPassword) },
			func() string { return certs.CAFile }, "WRONGPASS",
			func(srv *redistest.Server) { srv.SetUser(t, tlsUser, ">not-"+tlsPassword) }},
		{"no password", redistest.ClientCertOptional, (*redistest.Server).URL,
			func() string { return certs.CAFile }, "NOAUTH", nil},
		{"wrong CA", redistest.ClientCertOptional, url,
			func() string { return redistest.NewCerts(t).CAFile }, "x509: certificate signed by unknown authority", nil},
		{"client certificate required", redistest.ClientCertRequired, url,
			func() string { return certs.CAFile }, "tls: certificate required", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.StartTLS(t, certs, tc.auth)
			srv.SetUser(t, tlsUser, full...)
			tlsEnv(t, tc.url(srv), tc.ca(), "", "")
			log := tlsLog{Quote: true}
			e := tlsEngine(t, &log)
			refusedOnce(t, &log, "SUBSCRIBE ", tc.want)
			require.True(t, refusal(e, tc.want)())
			// As the README says, Invalidate's error names the refusal,
			// even where go-redis's dial retries outlast the publish
			// timeout (TLS refusals come from the dial).
			err := e.Invalidate(ctx(t), "s")
			require.ErrorIs(t, err, ErrQueued)
			require.ErrorContains(t, err, tc.want)
			// The next goes behind it in the outbox, and says why too.
			err = e.Invalidate(ctx(t), "t")
			require.ErrorIs(t, err, ErrQueued)
			require.ErrorContains(t, err, tc.want)
			require.NotContains(t, log.String(), "not-"+tlsPassword)
			if tc.fix == nil {
				return
			}
			tc.fix(srv)
			rtReady(t, e)
			require.Eventually(t, func() bool { st := e.Stats(); return st.RedisRefusal == "" && st.OutboxSize == 0 }, rtWait, rtPoll,
				"the server accepts the password now, yet the refusal stays or invalidations are still queued")
			require.Positive(t, e.Stats().OutboxRetried)
		})
	}
}

// tlsReadmeLine returns the fields after "ACL SETUSER <user> " of the
// README's line for user, with tlsPassword in place of <password>.
func tlsReadmeLine(t *testing.T, user string) []string {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	prefix := "ACL SETUSER " + user + " reset "
	for line := range strings.SplitSeq(string(readme), "\n") {
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			return append([]string{"reset"}, strings.Fields(strings.ReplaceAll(rest, "<password>", tlsPassword))...)
		}
	}
	t.Fatalf("README.md has no %q line", prefix+"...")
	return nil
}

// tlsWorks runs invalidation, fill, confirmation and a named cache on two
// engines made by FromEnv with opts, and checks that Redis refused them
// nothing. On Cluster, a confirmation does not wait for subscribers on
// other nodes (PUBLISH counts only its node's; see Sub.PublishConfirmed),
// so there b is only awaited.
func tlsWorks(t *testing.T, servers []*redistest.Server, cluster bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rtWait)
	defer cancel()
	log := tlsLog{Quote: true}
	a := tlsEngine(t, &log, WithFill(FillPolicy{}), WithHeartbeat(200*time.Millisecond))
	b := tlsEngine(t, &log, WithFill(FillPolicy{}), WithHeartbeat(200*time.Millisecond))
	rtReady(t, a)
	rtReady(t, b)
	var l rtLoader
	require.Equal(t, "s#1", rtGet(t, a, "s", &l))
	require.Equal(t, "s#1", rtGet(t, b, "s", &l))
	require.EqualValues(t, 1, b.Stats().FillSharedHits)
	require.NoError(t, a.InvalidateConfirmed(ctx, "s"))
	if cluster {
		require.Eventually(t, func() bool { return !b.Cached("s") }, rtWait, rtPoll)
	}
	require.False(t, b.Cached("s"))
	c, err := NewCache[any](a, "named", l.load, WithFill(FillPolicy{}))
	require.NoError(t, err)
	rtReady(t, c.e)
	_, err = c.Get(ctx, "n")
	require.NoError(t, err)
	require.NoError(t, c.Invalidate(ctx, "n"))
	require.NoError(t, c.Close())
	require.NoError(t, b.InvalidateAll(ctx))
	require.Eventually(t, func() bool { return !a.Cached("s") }, rtWait, rtPoll)
	for _, e := range []*Engine{a, b} {
		require.Empty(t, e.Stats().RedisRefusal)
	}
	require.Zero(t, log.Count("ERROR"), "%s", &log)
	for _, s := range servers {
		require.Empty(t, s.ACLDenials(t), "%s refused something", s.Addr())
	}
}

// TestRedisACLSentinelAndCluster: the README's users for Sentinel (the
// data nodes' and the sentinels') and for Redis Cluster (the node rule
// with the Cluster additions, on every node) run everything through
// FromEnv, with credentials from REDIS_USERNAME and REDIS_PASSWORD (and
// the URL's for the sentinels), and Redis refuses them nothing.
func TestRedisACLSentinelAndCluster(t *testing.T) {
	rule := tlsReadmeRule(t, true)
	t.Run("sentinel", func(t *testing.T) {
		primary := redistest.Start(t)
		replica := redistest.StartReplica(t, primary)
		ss := redistest.StartSentinels(t, primary, 1, 3)
		for _, s := range []*redistest.Server{primary, replica} {
			s.SetUser(t, tlsUser, rule...)
		}
		for _, s := range ss.Servers {
			s.SetUser(t, "slotcache-sentinel", tlsReadmeLine(t, "slotcache-sentinel")...)
		}
		tlsEnv(t, strings.Replace(ss.URL(), "redis://", "redis://slotcache-sentinel:"+tlsPassword+"@", 1), "", "", "")
		t.Setenv("REDIS_USERNAME", tlsUser)
		t.Setenv("REDIS_PASSWORD", tlsPassword)
		tlsWorks(t, append([]*redistest.Server{primary, replica}, ss.Servers...), false)
	})
	t.Run("cluster", func(t *testing.T) {
		cluster := redistest.StartCluster(t, 3)
		for _, n := range cluster.Nodes {
			n.SetUser(t, tlsUser, append(slices.Clone(rule), "+cluster|slots", "+command")...)
		}
		tlsEnv(t, "", "", "", "")
		t.Setenv("REDIS_CLUSTER_URL", redistest.ClusterURL(cluster.Addrs()))
		t.Setenv("REDIS_USERNAME", tlsUser)
		t.Setenv("REDIS_PASSWORD", tlsPassword)
		tlsWorks(t, cluster.Nodes, true)
	})
}

// TestRedisTLSAcrossRestart: engines on a TLS-only redis-server with
// client certificates, one with a named cache, reconnect over TLS when the
// server restarts: their subscriptions (the engine's and the named
// cache's channel) come back, invalidations and the shared fill tier work
// again, and any refusal met while the restarted server had not yet got
// its ACL user back (redistest keeps no ACL file: SetUser runs again)
// clears by itself.
func TestRedisTLSAcrossRestart(t *testing.T) {
	certs := redistest.NewCerts(t)
	srv := redistest.StartTLS(t, certs, redistest.ClientCertRequired)
	rule := tlsReadmeRule(t, true)
	srv.SetUser(t, tlsUser, rule...)
	tlsEnv(t, srv.UserURL(tlsUser, tlsPassword), certs.CAFile, certs.ClientCertFile, certs.ClientKeyFile)
	log := tlsLog{Quote: true}
	a := tlsEngine(t, &log, WithFill(FillPolicy{}))
	b := tlsEngine(t, &log, WithFill(FillPolicy{}))
	var l rtLoader
	ca, err := NewCache[any](a, "named", l.load)
	require.NoError(t, err)
	cb, err := NewCache[any](b, "named", l.load)
	require.NoError(t, err)
	for _, e := range []*Engine{a, b, ca.e, cb.e} {
		rtReady(t, e)
	}
	before := []uint64{a.Stats().Subscriptions, b.Stats().Subscriptions}

	srv.Restart()
	srv.SetUser(t, tlsUser, rule...)
	for i, e := range []*Engine{a, b} {
		require.Eventually(t, func() bool {
			st := e.Stats()
			return st.Subscribed && st.Subscriptions > before[i] && st.RedisRefusal == ""
		}, rtWait, rtPoll, "no TLS resubscription after the restart: %+v\n%s", e.Stats(), &log)
	}
	// Both connections are back on both channels: the engine's and the
	// named cache's.
	srv.WaitSubscribers(t, "slotcache:invalidate", 2)
	srv.WaitSubscribers(t, "slotcache:invalidate:named", 2)

	ctx, cancel := context.WithTimeout(context.Background(), rtWait)
	defer cancel()
	require.Equal(t, "s#1", rtGet(t, a, "s", &l))
	require.Equal(t, "s#1", rtGet(t, b, "s", &l), "b reads a's shared copy over TLS")
	require.NoError(t, a.InvalidateConfirmed(ctx, "s"))
	require.False(t, b.Cached("s"))

	_, err = cb.Get(ctx, "n")
	require.NoError(t, err)
	require.NoError(t, ca.Invalidate(ctx, "n"))
	require.Eventually(t, func() bool { return !cb.e.Cached("n") }, rtWait, rtPoll,
		"the named cache's invalidation did not cross after the restart")
	require.NotContains(t, log.String(), tlsPassword)
}
