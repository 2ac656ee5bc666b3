package fill

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/bridge"
	"github.com/slotcache/slotcache/internal/core"
)

var (
	keyA = []byte("0123456789abcdef0123456789abcdef")
	keyB = []byte("fedcba9876543210fedcba9876543210")
)

func ring(t *testing.T, keys ...[]byte) *bridge.Keyring {
	t.Helper()
	r, err := bridge.NewKeyring(keys...)
	require.NoError(t, err)
	return r
}

// signed makes a coordinator sign with keys (the first signing).
func signed(t *testing.T, acceptUnsigned bool, keys ...[]byte) func(*Config) {
	r := ring(t, keys...)
	return func(c *Config) { c.Signing = &Signing{Keys: r, AcceptUnsigned: acceptUnsigned} }
}

// TestSealUnseal: a sealed envelope opens only under a key of the ring,
// at the key it was written to, unchanged, and before its signed expiry.
func TestSealUnseal(t *testing.T) {
	const key, now = "{app:fill:ns1:user:42}", int64(1_767_225_600_000)
	a, b, rotated := ring(t, keyA), ring(t, keyB), ring(t, keyB, keyA)
	envelope := []byte("c{\"name\":\"x.y\"}")
	sealed := string(seal(a, key, now+1000, envelope))
	require.True(t, strings.HasPrefix(sealed, "s1."+bridge.KeyID(keyA)+"."), sealed)
	require.True(t, strings.HasSuffix(sealed, "."+string(envelope)), sealed)

	got, left, err := unseal(a, key, sealed, now)
	require.NoError(t, err)
	require.Equal(t, string(envelope), got)
	require.Equal(t, time.Second, left)
	_, _, err = unseal(rotated, key, sealed, now)
	require.NoError(t, err, "an older key of the ring verifies")

	tamper := func(from, to string) string { return strings.Replace(sealed, from, to, 1) }
	for name, tc := range map[string]struct {
		keys *bridge.Keyring
		key  string
		data string
		now  int64
		want error
	}{
		"unsigned":                    {a, key, string(envelope), now, errUnsigned},
		"nil marker":                  {a, key, "n", now, errUnsigned},
		"other key":                   {b, key, sealed, now, errForged},
		"copied to another slot":      {a, "{app:fill:ns1:user:43}", sealed, now, errForged},
		"copied to another namespace": {a, "{app:fill:ns2:user:42}", sealed, now, errForged},
		"value changed":               {a, key, tamper("x.y", "x.z"), now, errForged},
		"expiry extended":             {a, key, tamper(".1767225601000.", ".1767225699000."), now, errForged},
		"expiry not a number":         {a, key, tamper(".1767225601000.", ".17672256x1000."), now, errForged},
		"MAC cut":                     {a, key, sealed[:len(sealed)-len(envelope)-3] + "." + string(envelope), now, errForged},
		"header only":                 {a, key, "s1." + bridge.KeyID(keyA), now, errForged},
		"expired":                     {a, key, sealed, now + 1000, errExpired},
	} {
		_, _, err := unseal(tc.keys, tc.key, tc.data, tc.now)
		require.ErrorIs(t, err, tc.want, name)
		require.True(t, unverified(err), name)
	}
}

// TestSignedCopiesVerified: with signing, a genuine shared copy is a hit,
// while a copy moved from another slot, written unsigned by a plain client,
// or signed with another key is never served: the miss loads locally and
// counts as unverified.
func TestSignedCopiesVerified(t *testing.T) {
	r := newRig(t)
	a, b := r.coord(signed(t, false, keyA)), r.coord(signed(t, false, keyA))
	other := r.coord(signed(t, false, keyB))
	ctx := context.Background()

	require.Equal(t, "s#1", load(t, a, "s", newLoader(values("s")).load).v)
	k := r.keys("s")
	stored, err := r.client.Get(ctx, k.data).Result()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(stored, "s1."), "the copy is signed: %q", stored)

	got := load(t, b, "s", newLoader(values("unused")).load)
	require.Equal(t, "s#1", got.v)
	require.Equal(t, core.SharedCopy, got.src)
	require.Greater(t, got.ttl, 59*time.Minute, "a verified copy keeps its remaining life")

	require.NoError(t, r.client.Set(ctx, r.keys("t").data, stored, time.Hour).Err())      // moved from s
	require.NoError(t, r.client.Set(ctx, r.keys("u").data, `c"forged"`, time.Hour).Err()) // unsigned
	load(t, other, "v", newLoader(values("v")).load)                                      // another key
	for _, slot := range []string{"t", "u", "v"} {
		l := newLoader(values("local-" + slot))
		got := load(t, b, slot, l.load)
		require.Equal(t, "local-"+slot+"#1", got.v, "%s: the copy was served", slot)
		require.Equal(t, core.LoadedHere, got.src)
		require.Equal(t, int32(1), l.calls.Load())
	}
	require.Equal(t, map[string]uint64{"shared_hit": 1, "unverified": 3}, outcomes(b))
}

// TestSignedCopyReplayedAfterItsLifeRefused: a genuine signed copy, saved
// by a client that can read the fill keys and written back once it
// expired, does not verify: its signed expiry has passed.
func TestSignedCopyReplayedAfterItsLifeRefused(t *testing.T) {
	r := newRig(t)
	a, b := r.coord(signed(t, false, keyA)), r.coord(signed(t, false, keyA))
	ctx := context.Background()
	short := &sharing{share: core.Share{TTL: 200 * time.Millisecond}}
	await(t, loadAsyncDecide(ctx, a, "s", newLoader(values("old")).load, short))
	k := r.keys("s")
	saved, err := r.client.Get(ctx, k.data).Result()
	require.NoError(t, err)
	require.Eventually(t, func() bool { return !r.exists(k.data) }, waitFor, tick, "the copy expires")

	require.NoError(t, r.client.Set(ctx, k.data, saved, time.Hour).Err())
	got := load(t, b, "s", newLoader(values("new")).load)
	require.Equal(t, "new#1", got.v)
	require.Equal(t, map[string]uint64{"unverified": 1}, outcomes(b))
	recs := r.logs.records(t)
	require.Equal(t, errExpired.Error(), recs[len(recs)-1]["err"])
}

// TestSignedFollowerRefusesForgedCopy: a follower waiting on another
// instance's lock, woken by a notice, verifies what it finds; a copy a
// plain client wrote in the meantime is loaded locally instead.
func TestSignedFollowerRefusesForgedCopy(t *testing.T) {
	r := newRig(t)
	r.relay()
	a, b := r.coord(signed(t, false, keyA)), r.coord(signed(t, false, keyA))
	ctx := context.Background()
	load(t, a, "ns", newLoader(values("ns")).load) // makes the namespace
	k := r.keys("s")
	require.NoError(t, r.client.Set(ctx, k.lock, "someone-else", time.Minute).Err())

	l := newLoader(values("local"))
	following := loadAsync(ctx, b, "s", l.load)
	awaitFollowing(t, b, 1)
	require.NoError(t, r.client.Set(ctx, k.data, `c"forged"`, time.Hour).Err())
	require.NoError(t, r.client.Del(ctx, k.lock).Err())
	require.NoError(t, r.client.Publish(ctx, r.channel, "s").Err())

	got := await(t, following)
	require.Equal(t, "local#1", got.v)
	require.Equal(t, core.LoadedHere, got.src)
	require.Equal(t, map[string]uint64{"unverified": 1}, outcomes(b))
}

// TestSignedRefreshRewritesForgedCopy: a forged copy that is due for
// refresh is not served by the instance that wins its lease; that instance
// loads from the source and writes a signed copy over it, which the others
// then verify and serve.
func TestSignedRefreshRewritesForgedCopy(t *testing.T) {
	r := newRig(t)
	a, b := r.coord(signed(t, false, keyA)), r.coord(signed(t, false, keyA))
	ctx := context.Background()
	load(t, a, "ns", newLoader(values("ns")).load)
	k := r.keys("s")
	require.NoError(t, r.client.Set(ctx, k.data, `c"forged"`, time.Hour).Err())
	require.NoError(t, r.client.Set(ctx, k.refresh, time.Hour.Milliseconds(), time.Hour).Err()) // due now

	winner := &sharing{share: core.Share{TTL: time.Hour}, served: make(chan any, 4)}
	got := await(t, loadAsyncDecide(ctx, a, "s", newLoader(values("source")).load, winner))
	require.Equal(t, "source#1", got.v)
	require.Empty(t, winner.served, "the forged copy was served")
	require.Equal(t, map[string]uint64{"leader_load": 1, "unverified": 1}, outcomes(a))

	got = load(t, b, "s", newLoader(values("unused")).load)
	require.Equal(t, "source#1", got.v)
	require.Equal(t, core.SharedCopy, got.src)
}

// TestUnsignedEnvelopeUnchanged: without signing, and in migration mode,
// the stored copy is the envelope of envelope.go, byte for byte, so that
// instances that do not sign read it; migration mode reads signed and
// unsigned copies alike.
func TestUnsignedEnvelopeUnchanged(t *testing.T) {
	r := newRig(t)
	plain := r.coord()
	migrating := r.coord(signed(t, true, keyA))
	required := r.coord(signed(t, false, keyA))
	ctx := context.Background()

	load(t, plain, "p", newLoader(values("p")).load)
	load(t, migrating, "m", newLoader(values("m")).load)
	load(t, required, "r", newLoader(values("r")).load)
	for slot, want := range map[string]string{"p": `c"p#1"`, "m": `c"m#1"`} {
		got, err := r.client.Get(ctx, r.keys(slot).data).Result()
		require.NoError(t, err)
		require.Equal(t, want, got, slot)
	}
	for _, slot := range []string{"p", "m", "r"} {
		got := load(t, migrating, slot, newLoader(values("unused")).load)
		require.Equal(t, slot+"#1", got.v)
		require.Equal(t, core.SharedCopy, got.src, slot)
	}
	got := load(t, plain, "r", newLoader(values("plain")).load)
	require.Equal(t, "plain#1", got.v, "an instance that does not sign cannot read a signed copy, and loads")
	require.Equal(t, map[string]uint64{"leader_load": 1, "degraded": 1}, outcomes(plain))
	got = load(t, required, "m", newLoader(values("required")).load)
	require.Equal(t, "required#1", got.v, "an instance that requires signatures does not serve an unsigned copy")
	require.Equal(t, map[string]uint64{"leader_load": 1, "unverified": 1}, outcomes(required))
}

// TestMigratingRefusesForgedSignedCopy: migration mode accepts a copy
// without a signature, not one with a bad one. A copy signed with a key
// the coordinator does not hold is refused as unverified (Info, counted as
// such), like a required coordinator would, not taken for a value of
// another codec (degraded, a Redis-trouble Warn).
func TestMigratingRefusesForgedSignedCopy(t *testing.T) {
	r := newRig(t)
	migrating, other := r.coord(signed(t, true, keyA)), r.coord(signed(t, false, keyB))
	load(t, other, "v", newLoader(values("v")).load)

	l := newLoader(values("local"))
	got := load(t, migrating, "v", l.load)
	require.Equal(t, "local#1", got.v, "a copy signed with another key was served")
	require.Equal(t, core.LoadedHere, got.src)
	require.Equal(t, map[string]uint64{"unverified": 1}, outcomes(migrating))
}

// TestSignedCopyLifeCutToItsExpiry: a genuine copy whose life in Redis a
// client extended is served for no longer than its signed expiry, the
// shared lifetime its writer gave it, so that a cached entry does not
// outlive it either.
func TestSignedCopyLifeCutToItsExpiry(t *testing.T) {
	r := newRig(t)
	a, b := r.coord(signed(t, false, keyA)), r.coord(signed(t, false, keyA))
	ctx := context.Background()
	await(t, loadAsyncDecide(ctx, a, "s", newLoader(values("s")).load, &sharing{share: core.Share{TTL: time.Minute}}))
	require.NoError(t, r.client.PExpire(ctx, r.keys("s").data, time.Hour).Err())

	got := load(t, b, "s", newLoader(values("unused")).load)
	require.Equal(t, core.SharedCopy, got.src)
	require.Positive(t, got.ttl)
	require.LessOrEqual(t, got.ttl, time.Minute, "served for its life in Redis, past its signed expiry")
}
