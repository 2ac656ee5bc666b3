package slotcache

// Engine-level contract of WithFill (cross-instance fill coordination),
// against a real redis-server per test: several engines on one Redis play
// several server instances. Helpers carry an ft prefix.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/slotcache/slotcache/internal/redistest"
)

// ftEngines returns n engines on srv and channel with fill coordination,
// each with a client of its own like separate processes, all subscribed.
func ftEngines(t *testing.T, srv *redistest.Server, channel string, n int, p FillPolicy, opts ...Option) []*Engine {
	t.Helper()
	es := make([]*Engine, n)
	for i := range es {
		es[i] = rtEngine(t, srv.Client(t), channel, append([]Option{WithFill(p)}, opts...)...)
	}
	for _, e := range es {
		rtReady(t, e)
	}
	return es
}

// ftGate is a loader shared by every engine of a test: it counts calls
// across them, and a gated call blocks until the test opens the gate.
type ftGate struct {
	calls   atomic.Int32
	entered chan int32
	release chan struct{}
	once    sync.Once
	value   func(call int32) (any, error)
}

func ftNewGate(value func(call int32) (any, error)) *ftGate {
	return &ftGate{entered: make(chan int32, 1024), release: make(chan struct{}), value: value}
}

func (g *ftGate) load(_ context.Context, _ string) (any, error) {
	n := g.calls.Add(1)
	g.entered <- n
	<-g.release
	return g.value(n)
}

func (g *ftGate) open() { g.once.Do(func() { close(g.release) }) }

func (g *ftGate) awaitCall(t *testing.T) {
	t.Helper()
	select {
	case <-g.entered:
	case <-time.After(rtWait):
		t.Fatal("the loader was not called")
	}
}

// ftCount is an ungated loader returning "<prefix>#<call>".
func ftCount(calls *atomic.Int32, prefix string) Loader {
	return func(context.Context, string) (any, error) {
		return fmt.Sprintf("%s#%d", prefix, calls.Add(1)), nil
	}
}

// ftSource is the system of record: a version that tests bump, and a
// loader that returns it as "v<version>" (a string, which the JSON codec of
// the shared tier gives back unchanged). Once held, the loader reads the
// version and then waits at a gate, so the value it returns may be older
// than an invalidation that comes before it returns.
type ftSource struct {
	version atomic.Int64
	calls   atomic.Int32
	gate    atomic.Pointer[ftGate]
}

// ftNewSource returns a source at version 1.
func ftNewSource() *ftSource {
	s := &ftSource{}
	s.version.Store(1)
	return s
}

func (s *ftSource) load(ctx context.Context, id string) (any, error) {
	s.calls.Add(1)
	v := fmt.Sprintf("v%d", s.version.Load())
	if g := s.gate.Load(); g != nil {
		_, _ = g.load(ctx, id)
	}
	return v, nil
}

// hold makes every later load wait at the gate it returns.
func (s *ftSource) hold() *ftGate {
	g := ftNewGate(func(int32) (any, error) { return nil, nil })
	s.gate.Store(g)
	return g
}

func ftGet(t *testing.T, e *Engine, slotID string, load Loader) (any, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rtWait)
	defer cancel()
	return e.Get(ctx, slotID, load)
}

// ftKeys returns the data and lock keys of slotID in the current namespace,
// under the default key prefix of channel.
func ftKeys(t *testing.T, client *redis.Client, channel, slotID string) (data, lock string) {
	t.Helper()
	ns, err := client.Get(context.Background(), channel+":fill:gen").Result()
	require.NoError(t, err)
	data = "{" + channel + ":fill:" + ns + ":" + slotID + "}"
	return data, data + ":lock"
}

// ftPTTL returns the remaining life of slotID's shared copy in the current
// namespace, under the default key prefix of channel.
func ftPTTL(t *testing.T, client *redis.Client, channel, slotID string) time.Duration {
	t.Helper()
	data, _ := ftKeys(t, client, channel, slotID)
	d, err := client.PTTL(context.Background(), data).Result()
	require.NoError(t, err)
	return d
}

func ftExists(t *testing.T, client *redis.Client, key string) bool {
	t.Helper()
	n, err := client.Exists(context.Background(), key).Result()
	require.NoError(t, err)
	return n == 1
}

// ftAwaitFollowing waits until e has n followers waiting.
func ftAwaitFollowing(t *testing.T, e *Engine, n uint64) {
	t.Helper()
	require.Eventually(t, func() bool { return e.Stats().FillWaiting == n }, rtWait, rtPoll)
}

// ftOutcomes adds up the fill outcomes of es.
func ftOutcomes(es ...*Engine) (s Stats) {
	for _, e := range es {
		st := e.Stats()
		s.FillSharedHits += st.FillSharedHits
		s.FillLeaderLoads += st.FillLeaderLoads
		s.FillFollowerWoken += st.FillFollowerWoken
		s.FillFollowerPolled += st.FillFollowerPolled
		s.FillFollowerTimeouts += st.FillFollowerTimeouts
		s.FillDegraded += st.FillDegraded
		s.FillStaleCommitsRejected += st.FillStaleCommitsRejected
		s.FillCancelled += st.FillCancelled
		s.FillSharedRefreshes += st.FillSharedRefreshes
	}
	return s
}

// TestFillStampedeAcrossEnginesLoadsOnce: 4 engines × 250 goroutines on
// one cold slot make exactly one loader call in total.
func TestFillStampedeAcrossEnginesLoadsOnce(t *testing.T) {
	const engines, callers = 4, 250
	srv := redistest.Start(t)
	es := ftEngines(t, srv, rtChannel(t), engines, FillPolicy{})
	g := ftNewGate(func(int32) (any, error) { return "the value", nil })

	results := make(chan result, engines*callers)
	for _, e := range es {
		for range callers {
			go func() {
				v, err := ftGet(t, e, "cold", g.load)
				results <- result{v, err}
			}()
		}
	}
	g.awaitCall(t)
	// Hold the load until every caller of every engine is waiting.
	require.Eventually(t, func() bool {
		for _, e := range es {
			if e.Stats().Misses != callers {
				return false
			}
		}
		return true
	}, rtWait, rtPoll)
	g.open()
	for range engines * callers {
		r := <-results
		require.NoError(t, r.err)
		require.Equal(t, "the value", r.v)
	}
	require.Equal(t, int32(1), g.calls.Load(), "loader calls across all engines")
	s := ftOutcomes(es...)
	require.Equal(t, uint64(1), s.FillLeaderLoads)
	require.Equal(t, uint64(engines-1), s.FillSharedHits+s.FillFollowerWoken+s.FillFollowerPolled)
	require.Zero(t, s.FillDegraded+s.FillFollowerTimeouts+s.FillStaleCommitsRejected)
}

// TestFillFailingLeaderHandsOver: a leader whose loader errors or panics
// releases the lock, and a follower on another engine takes over at once.
func TestFillFailingLeaderHandsOver(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail func() (any, error)
		want error
	}{
		{"error", func() (any, error) { return nil, errors.New("source down") }, nil},
		{"panic", func() (any, error) { panic("loader bug") }, ErrLoaderPanic},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t)
			client := srv.Client(t)
			ch := rtChannel(t)
			es := ftEngines(t, srv, ch, 2, FillPolicy{})
			a, b := es[0], es[1]
			bad := ftNewGate(func(int32) (any, error) { return tc.fail() })
			leader := getAsync(context.Background(), a, "s", bad.load)
			bad.awaitCall(t)
			var calls atomic.Int32
			follower := getAsync(context.Background(), b, "s", ftCount(&calls, "good"))
			ftAwaitFollowing(t, b, 1)

			bad.open()
			r := await(t, leader)
			require.Error(t, r.err)
			if tc.want != nil {
				require.ErrorIs(t, r.err, tc.want)
			}
			r = await(t, follower)
			require.NoError(t, r.err)
			require.Equal(t, "good#1", r.v)
			require.Equal(t, uint64(1), b.Stats().FillLeaderLoads, "the follower took over")
			_, lock := ftKeys(t, client, ch, "s")
			require.False(t, ftExists(t, client, lock))

			// The failed engine reads the value its peer shared.
			v, err := ftGet(t, a, "s", ftCount(&calls, "unused"))
			require.NoError(t, err)
			require.Equal(t, "good#1", v)
			require.Equal(t, int32(1), calls.Load())
		})
	}
}

// ftOvertakenLeader runs the slow-leader scenario on n engines with opts:
// engine 0's leader loads slowValue for longer than its lease, engine 1
// takes the lock, loads "second#1" (counted in calls) and commits, then the
// slow leader returns and its commit is rejected. warm, if not nil, runs on
// engine 0 before its leader starts. It returns the engines and the slow
// leader's gate.
func ftOvertakenLeader(t *testing.T, n int, slowValue any, calls *atomic.Int32, warm func(*Engine), opts ...Option) ([]*Engine, *ftGate) {
	t.Helper()
	srv := redistest.Start(t)
	client := srv.Client(t)
	ch := rtChannel(t)
	p := FillPolicy{Lease: 200 * time.Millisecond, Wait: 100 * time.Millisecond, PollMin: 5 * time.Millisecond, PollMax: 20 * time.Millisecond}
	es := ftEngines(t, srv, ch, n, p, opts...)
	a, b := es[0], es[1]
	if warm != nil {
		warm(a)
	}

	slow := ftNewGate(func(int32) (any, error) { return slowValue, nil })
	leader := getAsync(context.Background(), a, "s", slow.load)
	slow.awaitCall(t)
	_, lock := ftKeys(t, client, ch, "s")
	require.Eventually(t, func() bool { return !ftExists(t, client, lock) }, rtWait, rtPoll, "the lease never expired")

	v, err := ftGet(t, b, "s", ftCount(calls, "second"))
	require.NoError(t, err)
	require.Equal(t, "second#1", v)

	slow.open()
	r := await(t, leader)
	require.NoError(t, r.err)
	require.Equal(t, slowValue, r.v, "the slow load still answers its own callers")
	require.Equal(t, uint64(1), a.Stats().FillStaleCommitsRejected, "the scenario: a's commit was rejected")
	return es, slow
}

// TestFillSlowLeaderNeverCommitsStale: a leader slower than its lease lets
// a second engine load (two loads at most), and its late commit is
// rejected: every engine ends up with the second value.
func TestFillSlowLeaderNeverCommitsStale(t *testing.T) {
	var calls atomic.Int32
	es, slow := ftOvertakenLeader(t, 3, "slow", &calls, nil)
	for _, e := range es {
		v, err := ftGet(t, e, "s", ftCount(&calls, "more"))
		require.NoError(t, err)
		require.Equal(t, "second#1", v)
	}
	require.Equal(t, int32(1), slow.calls.Load())
	require.Equal(t, int32(1), calls.Load(), "two loads in all, not one per engine")
}

// TestFillInvalidationDuringLoadRejectsCommit: an engine invalidates the
// slot while another engine's leader loads the old value; the leader's
// commit is rejected, and the next Get on every engine loads the new value.
func TestFillInvalidationDuringLoadRejectsCommit(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client(t)
	ch := rtChannel(t)
	es := ftEngines(t, srv, ch, 3, FillPolicy{})
	a, b, c := es[0], es[1], es[2]

	src := ftNewSource()
	gate := src.hold()
	leader := getAsync(context.Background(), a, "s", src.load)
	gate.awaitCall(t)

	src.version.Store(2)
	require.NoError(t, c.Invalidate(context.Background(), "s"))
	data, lock := ftKeys(t, client, ch, "s")
	require.False(t, ftExists(t, client, lock), "Invalidate deleted the lock")
	gate.open()

	r := await(t, leader)
	require.NoError(t, r.err)
	require.Equal(t, "v1", r.v)
	// a either heard the invalidation before its load ended, and its slot
	// refused to share the overtaken value, or Redis refused the commit
	// (TestInvalidationRejectsCommit in internal/fill pins that path down).
	require.False(t, ftExists(t, client, data), "the stale value reached the shared tier")
	// One more load serves everyone once the invalidation has reached the
	// others: one that lands during a later Get overtakes that Get's load
	// too, which is right, but costs another load.
	for _, e := range []*Engine{a, b} {
		require.Eventually(t, func() bool { return e.Stats().CrossProcessInvalidations >= 1 }, 10*time.Second, time.Millisecond)
	}

	for _, e := range []*Engine{a, b, c} {
		v, err := ftGet(t, e, "s", src.load)
		require.NoError(t, err)
		require.Equal(t, "v2", v, "engine %s", e.Origin())
	}
	require.Equal(t, int32(2), src.calls.Load())
}

// TestFillRedisKilledMidFill: Redis dies while a leader loads and a
// follower waits; every Get still returns a value (degraded to local
// loads), then and afterwards.
func TestFillRedisKilledMidFill(t *testing.T) {
	srv := redistest.Start(t)
	es := ftEngines(t, srv, rtChannel(t), 3, FillPolicy{OpTimeout: 100 * time.Millisecond})
	a, b, c := es[0], es[1], es[2]
	g := ftNewGate(func(int32) (any, error) { return "leader", nil })
	leader := getAsync(context.Background(), a, "s", g.load)
	g.awaitCall(t)
	var calls atomic.Int32
	follower := getAsync(context.Background(), b, "s", ftCount(&calls, "local"))
	ftAwaitFollowing(t, b, 1)

	srv.Kill()
	r := await(t, follower)
	require.NoError(t, r.err)
	require.Equal(t, "local#1", r.v)
	g.open()
	r = await(t, leader)
	require.NoError(t, r.err)
	require.Equal(t, "leader", r.v)

	for _, e := range es {
		for _, slot := range []string{"s", "t", "u"} {
			v, err := ftGet(t, e, slot, ftCount(&calls, "after"))
			require.NoError(t, err)
			require.NotNil(t, v)
		}
	}
	s := ftOutcomes(a, b, c)
	require.Positive(t, s.FillDegraded)
	require.Zero(t, s.FillStaleCommitsRejected)
}

// TestFillSharedHitKeepsRemainingTTL: a value found in the shared tier is
// cached for what is left of its shared lifetime, and a nil value is
// shared like any other.
func TestFillSharedHitKeepsRemainingTTL(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client(t)
	ch := rtChannel(t)
	es := ftEngines(t, srv, ch, 2, FillPolicy{})
	a, b := es[0], es[1]
	var calls atomic.Int32
	nilLoad := func(context.Context, string) (any, error) { calls.Add(1); return nil, nil }

	for _, slot := range []string{"short", "nil"} {
		_, err := ftGet(t, a, slot, nilLoad)
		require.NoError(t, err)
	}
	data, _ := ftKeys(t, client, ch, "short")
	require.NoError(t, client.PExpire(context.Background(), data, time.Second).Err())

	v, err := ftGet(t, b, "nil", nilLoad)
	require.NoError(t, err)
	require.Nil(t, v)
	_, err = ftGet(t, b, "short", nilLoad)
	require.NoError(t, err)
	require.Equal(t, int32(2), calls.Load(), "b loaded nothing itself")
	require.Equal(t, uint64(2), b.Stats().FillSharedHits)
	require.True(t, b.Cached("short"))
	// The engine TTL is an hour; the local copy goes with the shared one.
	require.Eventually(t, func() bool { return !b.Cached("short") }, rtWait, rtPoll)
	require.True(t, b.Cached("nil"))
}

// TestFillInvalidateDropsSharedCopy: Invalidate and InvalidateAll delete
// the shared copies before they publish, so no engine refills from them.
func TestFillInvalidateDropsSharedCopy(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client(t)
	ch := rtChannel(t)
	es := ftEngines(t, srv, ch, 2, FillPolicy{})
	a, b := es[0], es[1]
	var calls atomic.Int32
	load := ftCount(&calls, "v")
	for _, slot := range []string{"x", "y"} {
		_, err := ftGet(t, a, slot, load)
		require.NoError(t, err)
	}

	require.NoError(t, b.Invalidate(context.Background(), "x"))
	data, _ := ftKeys(t, client, ch, "x")
	require.False(t, ftExists(t, client, data))
	require.Eventually(t, func() bool { return !a.Cached("x") }, rtWait, rtPoll)
	v, err := ftGet(t, a, "x", load)
	require.NoError(t, err)
	require.Equal(t, "v#3", v)

	require.NoError(t, b.InvalidateAll(context.Background()))
	require.Eventually(t, func() bool { return !a.Cached("y") }, rtWait, rtPoll)
	v, err = ftGet(t, a, "y", load)
	require.NoError(t, err)
	require.Equal(t, "v#4", v, "y was refilled from a shared copy older than InvalidateAll")
	v, err = ftGet(t, b, "x", load)
	require.NoError(t, err)
	require.Equal(t, "v#5", v)
}

// TestFillNoticeWakesFollower: a follower on another engine gets the value
// on the leader's commit notice, through the bridge, not by polling (its
// polls are set far beyond the time the test takes). The notice goes on the
// invalidation channel without invalidating anything.
func TestFillNoticeWakesFollower(t *testing.T) {
	srv := redistest.Start(t)
	raw := srv.Client(t)
	ch := rtChannel(t)
	p := FillPolicy{Lease: 3 * time.Minute, Wait: 2 * time.Minute, PollMin: time.Minute, PollMax: time.Minute}
	es := ftEngines(t, srv, ch, 2, p, WithLoadTimeout(5*time.Minute))
	a, b := es[0], es[1]
	sub := rtSubscribe(t, raw, ch)

	var calls atomic.Int32
	_, err := ftGet(t, b, "cached", ftCount(&calls, "c"))
	require.NoError(t, err)
	msg := rtReceive(t, sub)
	require.Equal(t, `{"filled":"cached","_origin":"`+b.Origin()+`"}`, msg.Payload)

	g := ftNewGate(func(int32) (any, error) { return "v", nil })
	leader := getAsync(context.Background(), a, "s", g.load)
	g.awaitCall(t)
	follower := getAsync(context.Background(), b, "s", g.load)
	ftAwaitFollowing(t, b, 1)
	g.open()
	require.Equal(t, "v", await(t, leader).v)
	r := await(t, follower)
	require.NoError(t, r.err)
	require.Equal(t, "v", r.v)

	st := b.Stats()
	require.Equal(t, uint64(1), st.FillFollowerWoken)
	require.Positive(t, st.FillNotices)
	require.Zero(t, st.CrossProcessInvalidations, "a notice is not an invalidation")
	require.Zero(t, st.MalformedMessages)
	require.True(t, b.Cached("cached"))
	require.Equal(t, int32(1), g.calls.Load())
}

// TestFillUncodableValueServedLocally: a value the codec cannot encode is
// served and cached where it was loaded, not shared.
func TestFillUncodableValueServedLocally(t *testing.T) {
	srv := redistest.Start(t)
	es := ftEngines(t, srv, rtChannel(t), 2, FillPolicy{})
	a, b := es[0], es[1]
	var calls atomic.Int32
	load := func(context.Context, string) (any, error) { calls.Add(1); return make(chan int), nil }
	v, err := ftGet(t, a, "s", load)
	require.NoError(t, err)
	require.IsType(t, make(chan int), v)
	require.True(t, a.Cached("s"))
	require.Equal(t, uint64(1), a.Stats().FillUncodable)

	_, err = ftGet(t, b, "s", load)
	require.NoError(t, err)
	require.Equal(t, int32(2), calls.Load())
}

// TestFillTypedCodec: with JSONOf, an engine that reads the shared tier
// gets the loader's concrete type back, so GetAs works everywhere.
func TestFillTypedCodec(t *testing.T) {
	type user struct {
		Name string `json:"name"`
		Age  int    `json:"age"`
	}
	srv := redistest.Start(t)
	es := ftEngines(t, srv, rtChannel(t), 2, FillPolicy{Codec: JSONOf[user]()})
	load := func(context.Context, string) (user, error) { return user{"ada", 36}, nil }
	for _, e := range es {
		u, err := GetAs(context.Background(), e, "user:1", load)
		require.NoError(t, err)
		require.Equal(t, user{"ada", 36}, u)
	}
	require.Equal(t, uint64(1), es[1].Stats().FillSharedHits)
}

// TestFillBehaviourDecidesSharedTTL: the shared copy lives as long as the
// slot's behaviour caches the value (here NegativeTTL for nil), so other
// engines do not keep refilling a value the behaviour already let go.
func TestFillBehaviourDecidesSharedTTL(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client(t)
	ch := rtChannel(t)
	es := ftEngines(t, srv, ch, 1, FillPolicy{}, WithBehaviour(NegativeTTL(time.Second)))
	_, err := ftGet(t, es[0], "gone", func(context.Context, string) (any, error) { return nil, nil })
	require.NoError(t, err)
	pttl := ftPTTL(t, client, ch, "gone")
	require.Positive(t, pttl)
	require.LessOrEqual(t, pttl, time.Second)
}

func TestWithFillValidation(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client(t)
	bad := []struct {
		name  string
		opts  []Option
		wants []string
	}{
		{"no redis", []Option{WithFill(FillPolicy{})}, []string{"WithFill: needs Redis"}},
		{"wait not below lease", []Option{WithRedis(client), WithFill(FillPolicy{Lease: time.Second, Wait: time.Second})},
			[]string{"Wait (1s) must be shorter than Lease (1s)"}},
		{"poll min not positive", []Option{WithRedis(client), WithFill(FillPolicy{PollMin: -time.Millisecond})},
			[]string{"PollMin must be positive"}},
		{"poll max below poll min", []Option{WithRedis(client), WithFill(FillPolicy{PollMin: 50 * time.Millisecond, PollMax: 20 * time.Millisecond})},
			[]string{"PollMax (20ms) must be at least PollMin (50ms)"}},
		{"poll max not below wait", []Option{WithRedis(client), WithFill(FillPolicy{Wait: time.Second, PollMax: time.Second})},
			[]string{"PollMax (1s) must be shorter than Wait (1s)"}},
		{"every violation named", []Option{WithRedis(client), WithFill(FillPolicy{Lease: time.Second, Wait: 2 * time.Second, PollMin: -1, PollMax: 3 * time.Second})},
			[]string{"Wait (2s) must be shorter than Lease (1s)", "PollMin must be positive", "PollMax (3s) must be shorter than Wait (2s)"}},
		{"wait not below load timeout", []Option{WithRedis(client), WithLoadTimeout(time.Second), WithFill(FillPolicy{})},
			[]string{"Wait (5s) must be shorter than the load timeout (1s"}},
		{"braces in prefix", []Option{WithRedis(client), WithFill(FillPolicy{KeyPrefix: "a{b}:"})},
			[]string{`KeyPrefix "a{b}:" must not contain`}},
		{"braces in channel", []Option{WithRedis(client), WithChannel("c{1}"), WithFill(FillPolicy{})},
			[]string{"set FillPolicy.KeyPrefix"}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New(tc.opts...)
			require.Nil(t, e)
			require.Error(t, err)
			for _, want := range tc.wants {
				require.ErrorContains(t, err, want)
			}
			require.ErrorContains(t, err, "WithFill")
		})
	}

	// Defaults are valid; a prefix makes a braced channel fine; the
	// options may come in any order.
	for _, opts := range [][]Option{
		{WithFill(FillPolicy{}), WithRedis(client)},
		{WithRedis(client), WithChannel("c{1}"), WithFill(FillPolicy{KeyPrefix: "app:fill:"})},
		{WithRedis(client), WithFill(FillPolicy{Lease: time.Second, Wait: 500 * time.Millisecond, PollMin: time.Millisecond, PollMax: time.Millisecond})},
	} {
		e, err := New(opts...)
		require.NoError(t, err)
		require.NoError(t, e.Close())
	}
}

// TestFillResetAndClose: Reset zeroes the fill counters; Close while a
// follower waits ends it and leaves nothing running.
func TestFillResetAndClose(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	srv := redistest.Start(t)
	ch := rtChannel(t)
	clientA := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	clientB := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	newEngine := func(c *redis.Client) *Engine {
		e, err := New(WithRedis(c), WithChannel(ch), WithFill(FillPolicy{}))
		require.NoError(t, err)
		return e
	}
	a, b := newEngine(clientA), newEngine(clientB)

	var calls atomic.Int32
	_, err := ftGet(t, a, "warm", ftCount(&calls, "v"))
	require.NoError(t, err)
	require.Equal(t, uint64(1), a.Stats().FillLeaderLoads)
	a.Reset()
	require.Zero(t, a.Stats().FillLeaderLoads)

	g := ftNewGate(func(int32) (any, error) { return "v", nil })
	leader := getAsync(context.Background(), a, "s", g.load)
	g.awaitCall(t)
	follower := getAsync(context.Background(), b, "s", g.load)
	ftAwaitFollowing(t, b, 1)
	require.NoError(t, rtWithin(t, "Close", b.Close))
	require.ErrorIs(t, await(t, follower).err, ErrClosed)

	g.open()
	require.NoError(t, await(t, leader).err)
	require.NoError(t, rtWithin(t, "Close", a.Close))
	require.NoError(t, clientA.Close())
	require.NoError(t, clientB.Close())
	srv.Kill()
	// The follower's load reports to a slot actor that Close stopped: a
	// dead letter, which starts protoactor's dead-letter throttle, a timer
	// goroutine that ends by itself after its period. Ours must all be gone.
	goleak.VerifyNone(t, ignore, goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"))
}
