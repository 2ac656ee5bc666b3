package slotcache

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/internal/redistest"
)

var (
	sgKeyA = []byte("0123456789abcdef0123456789abcdef")
	sgKeyB = []byte("fedcba9876543210fedcba9876543210")
)

// sgInvalidation is an invalidation of slotID signed with key at ts, made
// from README's "Signed messages" alone, as a program in another language
// would make it.
func sgInvalidation(key []byte, channel, slotID string, ts int64) string {
	nonce := strconv.FormatInt(ts, 36) + slotID
	var in []byte
	for _, f := range []string{"slotcache/msg/v1", channel, "invalidate", strconv.FormatInt(ts, 10), nonce, slotID, "other-program", ""} {
		in = fmt.Appendf(in, "%d:%s,", len(f), f)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(in)
	id := hmac.New(sha256.New, key)
	id.Write([]byte("slotcache key id"))
	sig := "v1." + hex.EncodeToString(id.Sum(nil)[:4]) + "." + nonce + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	b, _ := json.Marshal(map[string]any{"slotId": slotID, "_origin": "other-program", "_ts": ts, "_sig": sig})
	return string(b)
}

func TestWithSigningOptionErrors(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled: New fails first
	t.Cleanup(func() { _ = client.Close() })
	for name, tc := range map[string]struct {
		opts   []Option
		option string
		reason string
	}{
		"no key":        {[]Option{WithRedis(client), WithSigning(Signing{})}, "WithSigning", "no key"},
		"short key":     {[]Option{WithRedis(client), WithSigning(Signing{Keys: [][]byte{[]byte("password")}})}, "WithSigning", "at least 16"},
		"short key too": {[]Option{WithRedis(client), WithSigningKey([]byte("password"))}, "WithSigningKey", "at least 16"},
		"short older":   {[]Option{WithRedis(client), WithSigningKey(sgKeyA, []byte("pw"))}, "WithSigningKey", "key 1 is 2 bytes"},
		"same key":      {[]Option{WithRedis(client), WithSigningKey(sgKeyA, sgKeyA)}, "WithSigningKey", "same key"},
		"short MaxAge":  {[]Option{WithRedis(client), WithSigning(Signing{Keys: [][]byte{sgKeyA}, MaxAge: 10 * time.Millisecond})}, "WithSigning", "MaxAge"},
		"no Redis":      {[]Option{WithSigningKey(sgKeyA)}, "WithSigningKey", "needs Redis"},
	} {
		_, err := New(tc.opts...)
		var oe *OptionError
		require.True(t, errors.As(err, &oe), "%s: %v", name, err)
		require.Equal(t, tc.option, oe.Option, name)
		require.Contains(t, oe.Reason, tc.reason, name)
	}
}

// TestSigningRefusesHostileMessages: an engine that requires signatures
// keeps the slots that an unsigned, wrongly signed, stale or replayed
// message names, applies genuine ones, and counts the others by reason in
// Stats (and so in every exporter).
func TestSigningRefusesHostileMessages(t *testing.T) {
	srv := redistest.Start(t)
	ch := rtChannel(t)
	e := rtEngine(t, srv.Client(t), ch, WithSigningKey(sgKeyA))
	forger := rtEngine(t, srv.Client(t), ch, WithSigningKey(sgKeyB)) // a whole engine with the wrong key
	rtReady(t, e)
	rtReady(t, forger)
	raw := srv.Client(t)
	var l rtLoader
	for _, s := range []string{"unsigned", "forged", "stale", "replayed", "end"} {
		rtGet(t, e, s, &l)
	}
	now := time.Now().UnixMilli()

	genuine := sgInvalidation(sgKeyA, ch, "replayed", now)
	rtPublish(t, raw, ch, genuine)
	require.Eventually(t, func() bool { return !e.Cached("replayed") }, rtWait, rtPoll, "a genuine message applies")
	rtGet(t, e, "replayed", &l)

	rtPublish(t, raw, ch, `{"slotId":"unsigned","_origin":"`+seedOrigin+`"}`) // the seed's Node module
	require.NoError(t, forger.Invalidate(context.Background(), "forged"))
	rtPublish(t, raw, ch, sgInvalidation(sgKeyA, ch, "stale", now-time.Hour.Milliseconds()))
	rtPublish(t, raw, ch, genuine)
	rtPublish(t, raw, ch, sgInvalidation(sgKeyA, ch, "end", now))
	require.Eventually(t, func() bool { return !e.Cached("end") }, rtWait, rtPoll)

	for _, s := range []string{"unsigned", "forged", "stale", "replayed"} {
		require.True(t, e.Cached(s), "%s: a refused message invalidated the slot", s)
	}
	st := e.Stats()
	require.Equal(t, uint64(2), st.CrossProcessInvalidations)
	require.Equal(t, uint64(1), st.RefusedUnsigned)
	require.Equal(t, uint64(1), st.RefusedForged)
	require.Equal(t, uint64(1), st.RefusedStale)
	require.Equal(t, uint64(1), st.RefusedReplayed)
	require.Zero(t, st.MalformedMessages)
	require.Zero(t, st.UnsignedMessages)
	require.Equal(t, uint64(1), e.Totals().RefusedForged)
}

// sgCross checks that an invalidation of a slot, and one of every slot,
// from one engine reaches the other.
func sgCross(t *testing.T, step string, from, to *Engine) {
	t.Helper()
	ctx := context.Background()
	var l rtLoader
	slot := step + ":" + from.Origin()[:6] + "→" + to.Origin()[:6]
	rtGet(t, to, slot, &l)
	require.NoError(t, from.Invalidate(ctx, slot))
	require.Eventually(t, func() bool { return !to.Cached(slot) }, rtWait, rtPoll, "%s: invalidation of one slot lost", step)
	rtGet(t, to, slot, &l)
	require.NoError(t, from.InvalidateAll(ctx))
	require.Eventually(t, func() bool { return !to.Cached(slot) }, rtWait, rtPoll, "%s: invalidation of every slot lost", step)
}

// TestSigningFleetMigrates: a fleet moves from unsigned to required
// signatures by rolling restarts, and at every step the invalidations of
// each instance reach the other, of one slot and of all: A unsigned and B
// in migration mode; both in migration mode; B requiring and A still in
// migration mode; both requiring.
func TestSigningFleetMigrates(t *testing.T) {
	srv := redistest.Start(t)
	ch := rtChannel(t)
	migration := WithSigning(Signing{Keys: [][]byte{sgKeyA}, AcceptUnsigned: true})
	required := WithSigningKey(sgKeyA)
	start := func(opts ...Option) *Engine {
		e := rtEngine(t, srv.Client(t), ch, opts...)
		rtReady(t, e)
		return e
	}
	both := func(step string, a, b *Engine) {
		t.Helper()
		sgCross(t, step, a, b)
		sgCross(t, step, b, a)
	}

	a, b := start(), start(migration)
	both("1 A unsigned, B migrating", a, b)
	require.NotZero(t, b.Stats().UnsignedMessages, "B applied A's unsigned messages, and counted them")

	require.NoError(t, a.Close())
	a = start(migration)
	both("2 both migrating", a, b)
	require.NoError(t, b.Close())
	b = start(required)
	both("3 B requiring, A migrating", a, b)
	require.NoError(t, a.Close())
	a = start(required)
	a.Reset()
	both("4 both requiring", a, b)
	st := a.Stats()
	require.Zero(t, st.UnsignedMessages+st.RefusedUnsigned+st.RefusedForged+st.RefusedStale+st.RefusedReplayed)
}

// TestSigningKeyRotation: keys rotate without a lost invalidation: B
// signs with the new key while A still signs with the old one and accepts
// both; then A signs with the new one too, and B drops the old one. An
// instance that only knows the new key refuses what the old one signs.
func TestSigningKeyRotation(t *testing.T) {
	srv := redistest.Start(t)
	ch := rtChannel(t)
	oldKey, newKey := sgKeyA, sgKeyB
	start := func(keys ...[]byte) *Engine {
		e := rtEngine(t, srv.Client(t), ch, WithSigning(Signing{Keys: keys}))
		rtReady(t, e)
		return e
	}
	a, b := start(oldKey), start(oldKey)
	sgCross(t, "0 old key", a, b)

	require.NoError(t, a.Close())
	a = start(oldKey, newKey) // A signs old, accepts both
	require.NoError(t, b.Close())
	b = start(newKey, oldKey) // B signs new, accepts both
	sgCross(t, "1 A old+new, B new+old", a, b)
	sgCross(t, "1 A old+new, B new+old", b, a)

	onlyNew := start(newKey)
	var l rtLoader
	rtGet(t, onlyNew, "kept", &l)
	require.NoError(t, a.Invalidate(context.Background(), "kept"))
	require.Eventually(t, func() bool { return onlyNew.Stats().RefusedForged == 1 }, rtWait, rtPoll)
	require.True(t, onlyNew.Cached("kept"), "a message signed with a key it does not hold was applied")

	require.NoError(t, a.Close())
	a = start(newKey, oldKey)
	require.NoError(t, b.Close())
	b = start(newKey)
	sgCross(t, "2 new key", a, b)
	sgCross(t, "2 new key", b, a)
}

// TestSigningForgedSharedValueNeverServed: with WithFill, a value that a
// plain client writes under a slot's shared key is served as a shared hit
// by an engine that does not sign (the threat), and never by one that
// does: it loads the slot itself and counts the copy as unverified, while
// genuine copies are still shared.
func TestSigningForgedSharedValueNeverServed(t *testing.T) {
	for _, sign := range []bool{false, true} {
		t.Run(fmt.Sprintf("signing=%v", sign), func(t *testing.T) {
			srv := redistest.Start(t)
			ch := rtChannel(t)
			opts := []Option{WithFill(FillPolicy{})}
			if sign {
				opts = append(opts, WithSigningKey(sgKeyA))
			}
			a := rtEngine(t, srv.Client(t), ch, opts...)
			b := rtEngine(t, srv.Client(t), ch, opts...)
			rtReady(t, a)
			rtReady(t, b)
			var la, lb rtLoader
			require.Equal(t, "s#1", rtGet(t, a, "s", &la))

			raw := srv.Client(t)
			ctx := context.Background()
			data, _ := ftKeys(t, raw, ch, "x")
			require.NoError(t, raw.Set(ctx, data, `c"forged"`, time.Hour).Err())

			require.Equal(t, "s#1", rtGet(t, b, "s", &lb), "a genuine copy is shared")
			got := rtGet(t, b, "x", &lb)
			st := b.Stats()
			if !sign {
				require.Equal(t, "forged", got, "without signing, the forged copy is served")
				require.Equal(t, uint64(2), st.FillSharedHits)
				return
			}
			require.Equal(t, "x#1", got, "the forged copy was served")
			require.Equal(t, uint64(1), st.FillSharedHits)
			require.Equal(t, uint64(1), st.FillUnverified)
			require.Equal(t, int64(1), lb.calls.Load())
		})
	}
}

// TestSigningNamedCaches: a named cache signs with its engine's keys
// unless given its own, and its channel is verified on its own.
func TestSigningNamedCaches(t *testing.T) {
	srv := redistest.Start(t)
	ch := rtChannel(t)
	a := rtEngine(t, srv.Client(t), ch, WithSigningKey(sgKeyA))
	b := rtEngine(t, srv.Client(t), ch, WithSigningKey(sgKeyA))
	load := func(_ context.Context, id string) (string, error) { return id + "!", nil }
	inherit := func(e *Engine) *Cache[string] {
		c, err := NewCache(e, "users", load)
		require.NoError(t, err)
		return c
	}
	own := func(e *Engine, key []byte) *Cache[string] {
		c, err := NewCache(e, "orders", load, WithSigningKey(key))
		require.NoError(t, err)
		return c
	}
	ua, ub := inherit(a), inherit(b)
	oa, ob := own(a, sgKeyB), own(b, sgKeyB)
	ctx, cancel := context.WithTimeout(context.Background(), rtWait)
	defer cancel()
	for _, c := range []*Cache[string]{ua, ub, oa, ob} {
		require.NoError(t, c.WaitReady(ctx))
	}
	raw := srv.Client(t)
	for _, pair := range [][2]*Cache[string]{{ua, ub}, {oa, ob}} {
		from, to := pair[0], pair[1]
		_, err := to.Get(ctx, "x")
		require.NoError(t, err)
		rtPublish(t, raw, to.Channel(), `{"slotId":"x","_origin":"raw"}`)
		require.Eventually(t, func() bool { return to.Stats().RefusedUnsigned == 1 }, rtWait, rtPoll, to.Name())
		require.True(t, to.Cached("x"), to.Name())
		require.NoError(t, from.Invalidate(ctx, "x"))
		require.Eventually(t, func() bool { return !to.Cached("x") }, rtWait, rtPoll, to.Name())
	}
	_, err := ob.Get(ctx, "y")
	require.NoError(t, err)
	rtPublish(t, raw, ob.Channel(), sgInvalidation(sgKeyA, ob.Channel(), "y", time.Now().UnixMilli()))
	require.Eventually(t, func() bool { return ob.Stats().RefusedForged == 1 }, rtWait, rtPoll, "the engine's key does not sign for a cache with its own")
	require.True(t, ob.Cached("y"))
}

// TestSigningHitAllocatesNothing: signing costs nothing on a hit, which
// never touches Redis.
func TestSigningHitAllocatesNothing(t *testing.T) {
	srv := redistest.Start(t)
	e := rtEngine(t, srv.Client(t), rtChannel(t), WithSigningKey(sgKeyA), WithFill(FillPolicy{}))
	rtReady(t, e)
	var l rtLoader
	rtGet(t, e, "k", &l)
	ctx, load := context.Background(), l.load // a method value allocates where it is made
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := e.Get(ctx, "k", load); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs)
	require.Equal(t, int64(1), l.calls.Load(), "every Get after the first was a hit")
}

// TestSigningRefusedStormNeverDamped: damping judges only what signing
// admitted. A flood of unsigned and forged invalidations of every slot is
// refused and counted, never held, counted as damped, or taken for the
// start of a storm: the genuine "*" after it is applied at once, not held
// for a flush.
func TestSigningRefusedStormNeverDamped(t *testing.T) {
	srv := redistest.Start(t)
	ch := rtChannel(t)
	e := rtEngine(t, srv.Client(t), ch, WithSigningKey(sgKeyA), WithInvalidationDamping(time.Second))
	rtReady(t, e)
	raw := srv.Client(t)
	var l rtLoader
	rtGet(t, e, "k", &l)

	const flood = 200
	now := time.Now().UnixMilli()
	for i := range flood {
		rtPublish(t, raw, ch, `{"slotId":"*","_origin":"storm"}`)
		rtPublish(t, raw, ch, sgInvalidation(sgKeyB, ch, "*", now+int64(i)))
	}
	require.Eventually(t, func() bool {
		st := e.Stats()
		return st.RefusedUnsigned == flood && st.RefusedForged == flood
	}, rtWait, rtPoll)
	require.True(t, e.Cached("k"), "a refused message flushed the cache")
	st := e.Stats()
	require.Zero(t, st.DampedInvalidations+st.DampFlushes, "refused messages were held")
	require.Zero(t, st.CrossProcessInvalidations)

	rtPublish(t, raw, ch, sgInvalidation(sgKeyA, ch, "*", now))
	require.Eventually(t, func() bool { return e.Stats().CrossProcessInvalidations == 1 }, rtWait, rtPoll)
	require.False(t, e.Cached("k"))
	require.Zero(t, e.Stats().DampedInvalidations, "the genuine invalidation was held, as if the refused flood were a storm")
}

// TestSigningAcrossRestart: what guards a signing engine outlives its
// Redis session. After Redis restarts and the engine resubscribes, a
// signed message it accepted before is still refused as a replay (the
// record is the channel's, not the session's), genuine messages still
// apply, and its heartbeats, sealed with the bridge's own key, still move
// the staleness watermark.
func TestSigningAcrossRestart(t *testing.T) {
	srv := redistest.Start(t)
	ch := rtChannel(t)
	e := rtEngine(t, srv.Client(t), ch, WithSigningKey(sgKeyA)) // 1 s heartbeat: no dead-link flush on a busy machine
	rtReady(t, e)
	var l rtLoader
	rtGet(t, e, "a", &l)
	captured := sgInvalidation(sgKeyA, ch, "a", time.Now().UnixMilli())
	rtPublish(t, srv.Client(t), ch, captured)
	require.Eventually(t, func() bool { return !e.Cached("a") }, rtWait, rtPoll)

	srv.Restart()
	require.Eventually(t, func() bool { return e.Stats().Subscriptions == 2 }, rtWait, rtPoll, "no resubscription")
	raw := srv.Client(t)
	rtGet(t, e, "a", &l)
	rtGet(t, e, "b", &l)
	rtPublish(t, raw, ch, captured)
	rtPublish(t, raw, ch, sgInvalidation(sgKeyA, ch, "b", time.Now().UnixMilli()))
	require.Eventually(t, func() bool { return !e.Cached("b") }, rtWait, rtPoll, "a genuine message after the restart was lost")
	require.True(t, e.Cached("a"), "a message captured before the restart was applied again")
	st := e.Stats()
	require.Equal(t, uint64(1), st.RefusedReplayed)
	require.Zero(t, st.ForgedHeartbeats, "the bridge refused its own heartbeats after the restart")
	w := e.env.LastWatermark()
	require.Eventually(t, func() bool { return e.env.LastWatermark() > w }, rtWait, rtPoll, "heartbeats no longer move the watermark")
}

// TestSigningNamedCachesFill: a named cache's shared values are signed
// with the cache's keys, not its engine's. Two instances whose "orders"
// caches have their own key share copies; a copy written by an instance
// whose "orders" cache signs with the engine's key instead, and one
// written by a plain client, are loaded locally and counted, never served.
func TestSigningNamedCachesFill(t *testing.T) {
	srv := redistest.Start(t)
	ch := rtChannel(t)
	ctx, cancel := context.WithTimeout(context.Background(), rtWait)
	defer cancel()
	orders := func(name string, opts ...Option) (*Cache[string], *atomic.Int64) {
		e := rtEngine(t, srv.Client(t), ch, WithSigningKey(sgKeyA))
		var calls atomic.Int64
		c, err := NewCache(e, "orders", func(_ context.Context, id string) (string, error) {
			calls.Add(1)
			return id + "@" + name, nil
		}, append([]Option{WithFill(FillPolicy{})}, opts...)...)
		require.NoError(t, err)
		require.NoError(t, c.WaitReady(ctx))
		return c, &calls
	}
	a, _ := orders("a", WithSigningKey(sgKeyB))
	b, bLoads := orders("b", WithSigningKey(sgKeyB))
	c, _ := orders("c") // signs with its engine's key

	get := func(c *Cache[string], id string) string {
		v, err := c.Get(ctx, id)
		require.NoError(t, err)
		return v
	}
	require.Equal(t, "x@a", get(a, "x"))
	require.Equal(t, "x@a", get(b, "x"), "a copy signed with the cache's key is shared")
	require.Equal(t, "y@c", get(c, "y"))
	require.Equal(t, "y@b", get(b, "y"), "a copy signed with the engine's key was served by a cache with its own")

	raw := srv.Client(t)
	data, _ := ftKeys(t, raw, b.Channel(), "z")
	require.NoError(t, raw.Set(ctx, data, `c"forged"`, time.Hour).Err())
	require.Equal(t, "z@b", get(b, "z"), "a plain client's copy was served")

	st := b.Stats()
	require.Equal(t, uint64(1), st.FillSharedHits)
	require.Equal(t, uint64(2), st.FillUnverified)
	require.Equal(t, int64(2), bLoads.Load())
}

// TestSigningConfirmedInvalidations: among signing engines a confirmed
// invalidation, signed with its confirm ID, is applied and answered with
// a signed answer, held by the damper or not: each call returns once the other engine
// dropped the slot. An instance whose key differs refuses it and does not
// answer, so the writer learns that the fleet did not apply it instead of
// a false success.
func TestSigningConfirmedInvalidations(t *testing.T) {
	srv := redistest.Start(t)
	ch := rtChannel(t)
	a := rtEngine(t, srv.Client(t), ch, WithSigningKey(sgKeyA))
	b := rtEngine(t, srv.Client(t), ch, WithSigningKey(sgKeyA))
	rtReady(t, a)
	rtReady(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), rtWait)
	defer cancel()
	var l rtLoader

	rtGet(t, b, "x", &l)
	require.NoError(t, a.InvalidateConfirmed(ctx, "x"))
	require.False(t, b.Cached("x"), "confirmed before the other engine applied it")
	for range 3 { // back to back: b's damper usually holds the later ones
		rtGet(t, b, "y", &l)
		require.NoError(t, a.InvalidateAllConfirmed(ctx))
		require.False(t, b.Cached("y"), "confirmed before the other engine applied it")
	}
	st := b.Stats()
	require.Zero(t, st.RefusedUnsigned+st.RefusedForged+st.RefusedStale+st.RefusedReplayed)
	require.Zero(t, a.Stats().RefusedUnsigned+a.Stats().RefusedForged, "an answer was refused")

	other := rtEngine(t, srv.Client(t), ch, WithSigningKey(sgKeyB))
	rtReady(t, other)
	rtGet(t, other, "z", &l)
	short, stop := context.WithTimeout(ctx, 500*time.Millisecond)
	defer stop()
	err := a.InvalidateConfirmed(short, "z")
	require.ErrorIs(t, err, ErrUnconfirmed)
	require.ErrorContains(t, err, "1 of 3")
	require.True(t, other.Cached("z"))
	require.Equal(t, uint64(1), other.Stats().RefusedForged)
}
