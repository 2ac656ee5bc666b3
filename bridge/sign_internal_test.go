package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/internal/redistest"
)

var (
	keyA = []byte("0123456789abcdef0123456789abcdef")
	keyB = []byte("fedcba9876543210fedcba9876543210")
)

func ring(t *testing.T, keys ...[]byte) *Keyring {
	t.Helper()
	r, err := NewKeyring(keys...)
	require.NoError(t, err)
	return r
}

// testSigner is a signer on a fixed clock.
func testSigner(t *testing.T, s Signing, now *int64) *signer {
	g := newSigner(&s)
	g.now = func() int64 { return *now }
	return g
}

// signedJSON is a message with the given fields, in JSON.
func signedJSON(fields map[string]any) string {
	b, _ := json.Marshal(fields)
	return string(b)
}

// TestSignedMessageVerdicts runs what a signing receiver makes of each
// kind of message, genuine, tampered or hostile, through the real decoder.
func TestSignedMessageVerdicts(t *testing.T) {
	const ch = "ch"
	const now = int64(1_767_225_600_000)
	maxAge := (30 * time.Second).Milliseconds()
	inv := func(ts int64, key []byte, slot, origin, confirm string) map[string]any {
		m := map[string]any{"slotId": slot, "_origin": origin, "_ts": ts,
			"_sig": specSign(key, ch, "invalidate", ts, "n0nce", slot, origin, confirm)}
		if confirm != "" {
			m["confirm"] = confirm
		}
		return m
	}
	with := func(m map[string]any, k string, v any) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			out[k] = v
		}
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
		return out
	}
	good := inv(now, keyA, "s", "o", "")
	filled := map[string]any{"filled": "s", "_origin": "o", "_ts": now, "_sig": specSign(keyA, ch, "filled", now, "n0nce", "s", "o")}
	goodSig := good["_sig"].(string)
	tests := []struct {
		name    string
		payload string
		migrate bool
		want    verdict
	}{
		{"signed invalidation", signedJSON(good), false, verdictSigned},
		{"signed invalidation of every slot", signedJSON(inv(now, keyA, All, "o", "")), false, verdictSigned},
		{"signed confirmed invalidation", signedJSON(inv(now, keyA, "s", "o", "req-1")), false, verdictSigned},
		{"signed fill notice", signedJSON(filled), false, verdictSigned},
		{"escapes do not matter", strings.Replace(signedJSON(inv(now, keyA, "a<b", "o", "")), `a\u003cb`, `a<b`, 1), false, verdictSigned},
		{"oldest accepted", signedJSON(inv(now-maxAge, keyA, "s", "o", "")), false, verdictSigned},
		{"newest accepted", signedJSON(inv(now+maxAge, keyA, "s", "o", "")), false, verdictSigned},

		{"unsigned, required", `{"slotId":"s","_origin":"o"}`, false, refusedUnsigned},
		{"unsigned, migration", `{"slotId":"s","_origin":"o"}`, true, verdictUnsigned},
		{"empty _sig is unsigned", signedJSON(with(good, "_sig", "")), false, refusedUnsigned},
		{"null _sig is unsigned", `{"slotId":"s","_origin":"o","_sig":null}`, false, refusedUnsigned},

		{"unknown key", signedJSON(inv(now, keyB, "s", "o", "")), false, refusedForged},
		{"unknown key, migration", signedJSON(inv(now, keyB, "s", "o", "")), true, refusedForged},
		{"other key under our key ID", signedJSON(with(good, "_sig", strings.Replace(specSign(keyB, ch, "invalidate", now, "n0nce", "s", "o", ""), KeyID(keyB), KeyID(keyA), 1))), false, refusedForged},
		{"slot changed", signedJSON(with(good, "slotId", "t")), false, refusedForged},
		{"slot changed to every slot", signedJSON(with(good, "slotId", All)), false, refusedForged},
		{"origin changed", signedJSON(with(good, "_origin", "p")), false, refusedForged},
		{"confirm added", signedJSON(with(good, "confirm", "req-2")), false, refusedForged},
		{"timestamp changed", signedJSON(with(good, "_ts", now+1)), false, refusedForged},
		{"timestamp removed", signedJSON(with(good, "_ts", nil)), false, refusedForged},
		{"timestamp a string", signedJSON(with(good, "_ts", fmt.Sprint(now))), false, refusedForged},
		{"timestamp a fraction", strings.Replace(signedJSON(good), fmt.Sprint(now), fmt.Sprint(now)+".5", 1), false, refusedForged},
		{"nonce changed", signedJSON(with(good, "_sig", strings.Replace(goodSig, "n0nce", "n1nce", 1))), false, refusedForged},
		{"empty nonce", signedJSON(with(good, "_sig", specSign(keyA, ch, "invalidate", now, "", "s", "o", ""))), false, refusedForged},
		{"signed for another channel", signedJSON(with(good, "_sig", specSign(keyA, "other", "invalidate", now, "n0nce", "s", "o", ""))), false, refusedForged},
		{"a fill notice's signature on an invalidation", signedJSON(with(good, "_sig", specSign(keyA, ch, "filled", now, "n0nce", "s", "o"))), false, refusedForged},
		{"fill notice's slot changed", signedJSON(with(filled, "filled", "t")), false, refusedForged},
		{"an invalidation's signature on a fill notice", signedJSON(with(filled, "_sig", specSign(keyA, ch, "invalidate", now, "n0nce", "s", "o", ""))), false, refusedForged},
		{"unsigned fill notice", `{"filled":"s","_origin":"o"}`, false, refusedUnsigned},
		{"_sig a number", signedJSON(with(good, "_sig", 5)), false, refusedForged},
		{"_sig of another version", signedJSON(with(good, "_sig", "v2"+goodSig[2:])), false, refusedForged},
		{"_sig without MAC", signedJSON(with(good, "_sig", goodSig[:strings.LastIndexByte(goodSig, '.')])), false, refusedForged},
		{"MAC truncated", signedJSON(with(good, "_sig", goodSig[:len(goodSig)-2])), false, refusedForged},
		{"MAC not base64url", signedJSON(with(good, "_sig", goodSig[:len(goodSig)-1]+"+")), false, refusedForged},

		{"too old", signedJSON(inv(now-maxAge-1, keyA, "s", "o", "")), false, refusedStale},
		{"too far ahead", signedJSON(inv(now+maxAge+1, keyA, "s", "o", "")), false, refusedStale},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := now
			s := &Sub{channel: ch, sign: testSigner(t, Signing{Keys: ring(t, keyA), AcceptUnsigned: tc.migrate}, &clock)}
			n, err := DecodeNotice(tc.payload, 4<<10)
			require.NoError(t, err)
			require.Equal(t, tc.want, s.verdict(n), "%s", tc.payload)
		})
	}
}

// TestSignedMessageReplay: a signed message is accepted once; the same
// content signed again (another nonce) is a new message, even within the
// same millisecond; the replay record lasts as long as the message is
// acceptable, and no longer.
func TestSignedMessageReplay(t *testing.T) {
	const ch = "ch"
	now := int64(1_767_225_600_000)
	s := &Sub{channel: ch, sign: testSigner(t, Signing{Keys: ring(t, keyA)}, &now)}
	b := &Bridge{cfg: Config{Origin: "o"}}
	s.b = b
	decode := func(payload []byte) Notice {
		n, err := DecodeNotice(string(payload), 4<<10)
		require.NoError(t, err)
		return n
	}
	first := s.encodeInvalidation(All, "")
	second := s.encodeInvalidation(All, "")
	require.NotEqual(t, first, second, "the nonce tells two messages of one millisecond apart")
	require.Equal(t, verdictSigned, s.verdict(decode(first)))
	require.Equal(t, verdictSigned, s.verdict(decode(second)))
	require.Equal(t, refusedReplayed, s.verdict(decode(first)))
	require.Equal(t, 2, s.sign.seen.size)

	now += 2 * DefaultMaxAge.Milliseconds()
	require.Equal(t, refusedStale, s.verdict(decode(first)), "past the window, a replay is stale")
	fresh := s.encodeInvalidation("x", "")
	require.Equal(t, verdictSigned, s.verdict(decode(fresh)))
	require.Equal(t, 1, s.sign.seen.size, "records older than the window were dropped")
}

// TestReplaysBounded: past maxReplays records, new messages are accepted
// without being recorded, until older buckets expire.
func TestReplaysBounded(t *testing.T) {
	var r replays
	const now, width = int64(1_000_000), int64(30_000)
	var mac [32]byte
	for i := range maxReplays {
		mac[0], mac[1], mac[2] = byte(i), byte(i>>8), byte(i>>16)
		require.False(t, r.add(mac, now, now, width))
	}
	mac[3] = 1
	require.False(t, r.add(mac, now, now, width))
	require.False(t, r.add(mac, now, now, width), "full: not recorded")
	require.False(t, r.add(mac, now+3*width, now+3*width, width), "older buckets expired: recorded again")
	require.True(t, r.add(mac, now+3*width, now+3*width, width))
	require.Equal(t, 1, r.size)
}

// TestStampMatchesSpec: what a signing Sub writes is what README's text
// says, byte for byte: the independent specSign recomputes the same _sig
// from the same nonce.
func TestStampMatchesSpec(t *testing.T) {
	now := int64(1_767_225_600_123)
	s := &Sub{channel: "app:inv", b: &Bridge{cfg: Config{Origin: "o1"}}, sign: testSigner(t, Signing{Keys: ring(t, keyA, keyB)}, &now)}
	for _, tc := range []struct {
		payload []byte
		kind    string
		fields  []string
	}{
		{s.encodeInvalidation("user:42", ""), "invalidate", []string{"user:42", "o1", ""}},
		{s.encodeInvalidation(All, "req"), "invalidate", []string{All, "o1", "req"}},
		{s.EncodeFilled("user:42"), "filled", []string{"user:42", "o1"}},
	} {
		var m struct {
			TS  int64  `json:"_ts"`
			Sig string `json:"_sig"`
		}
		require.NoError(t, json.Unmarshal(tc.payload, &m))
		require.Equal(t, now, m.TS)
		nonce := strings.Split(m.Sig, ".")[2]
		require.Len(t, nonce, 16)
		require.Equal(t, specSign(keyA, "app:inv", tc.kind, now, nonce, tc.fields...), m.Sig, "%s", tc.payload)
	}
	// An unsigned Sub writes the seed's bytes, nothing more.
	plain := &Sub{channel: "app:inv", b: &Bridge{cfg: Config{Origin: "o1"}}}
	require.Equal(t, `{"slotId":"user:42","_origin":"o1"}`, string(plain.encodeInvalidation("user:42", "")))
	require.Equal(t, `{"filled":"user:42","_origin":"o1"}`, string(plain.EncodeFilled("user:42")))
}

// TestHeartbeatSeal: a bridge accepts its own heartbeats, once each and in
// order, and nothing else.
func TestHeartbeatSeal(t *testing.T) {
	const ch = "c:heartbeat:o@x"
	h := newHeartbeatSeal()
	p1, p2 := h.seal(ch, "o@x", 100), h.seal(ch, "o@x", 200)

	sent, ok, forged := h.open(ch, p1)
	require.True(t, ok)
	require.False(t, forged)
	require.Equal(t, int64(100), sent)
	_, ok, forged = h.open(ch, p1)
	require.False(t, ok, "a replayed heartbeat proves nothing new")
	require.False(t, forged)
	sent, ok, _ = h.open(ch, p2)
	require.True(t, ok)
	require.Equal(t, int64(200), sent)

	for name, payload := range map[string]string{
		"the old unsigned format":   "o@x@999999999999999999",
		"time changed":              strings.Replace(h.seal(ch, "o@x", 300), "@300.", "@999999999.", 1),
		"another bridge's":          newHeartbeatSeal().seal(ch, "o@x", 400),
		"sealed for another bridge": h.seal("c:heartbeat:p", "o@x", 500),
		"empty":                     "",
		"MAC not base64":            "o@x@600.!!",
	} {
		_, ok, forged := h.open(ch, payload)
		require.False(t, ok, name)
		require.True(t, forged, name)
	}
}

// TestREADMEExample: the signed message README shows is the one the spec
// gives for its key, and a signing receiver accepts it.
func TestREADMEExample(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	const ts = int64(1767225600000)
	const sig = "v1.6db972ac.q8Zk2rVnYw1xLm0T.AzwjNVizPb-D1qiPrvyz0LIi1eu6n7Adl2pazftHQvc"
	require.Equal(t, "16:slotcache/msg/v1,20:slotcache:invalidate,10:invalidate,13:1767225600000,16:q8Zk2rVnYw1xLm0T,7:user:42,16:9f86d081884c7d65,0:,",
		string(MACInput("slotcache/msg/v1", "slotcache:invalidate", "invalidate", "1767225600000", "q8Zk2rVnYw1xLm0T", "user:42", "9f86d081884c7d65", "")))
	require.Equal(t, sig, specSign(key, "slotcache:invalidate", "invalidate", ts, "q8Zk2rVnYw1xLm0T", "user:42", "9f86d081884c7d65", ""))
	clock := ts + 5
	s := &Sub{channel: "slotcache:invalidate", sign: testSigner(t, Signing{Keys: ring(t, key)}, &clock)}
	n, err := DecodeNotice(`{"slotId":"user:42","_origin":"9f86d081884c7d65","_ts":1767225600000,"_sig":"`+sig+`"}`, 4<<10)
	require.NoError(t, err)
	require.Equal(t, verdictSigned, s.verdict(n))
}

// TestQueuedInvalidationStampedWhenSent: an invalidation that waited in
// the outbox is signed when it is finally published, not when it was
// queued, so that an outage longer than MaxAge does not make every queued
// invalidation stale, refused by every instance, and lost. The writer's
// clock is an hour behind while the publish fails, and right when Redis is
// back: the receiver must get a message dated now.
func TestQueuedInvalidationStampedWhenSent(t *testing.T) {
	srv := redistest.Start(t)
	proxy := redistest.NewProxy(t, srv.Addr())
	channel := "slotcache-test:signed-outbox:" + t.Name()
	signing := &Signing{Keys: ring(t, keyA)}
	start := func(client redis.UniversalClient, origin string, h Handler) *Bridge {
		b := Start(Config{
			Client: client, Channel: channel, Origin: origin, Handler: h,
			PublishTimeout: 200 * time.Millisecond, MaxMessageBytes: 4096,
			BackoffMin: 10 * time.Millisecond, BackoffMax: 100 * time.Millisecond,
			Signing: signing,
		})
		t.Cleanup(b.Close)
		select {
		case <-b.Ready():
		case <-time.After(10 * time.Second):
			t.Fatal("not subscribed")
		}
		return b
	}
	// No retries inside go-redis: a command it retried would carry the
	// payload stamped before the outage.
	wc := redis.NewClient(&redis.Options{Addr: proxy.Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = wc.Close() })
	w := start(wc, "writer", &countingHandler{})
	h := &countingHandler{}
	r := start(srv.Client(t), "reader", h)

	var skew, fresh atomic.Int64
	w.mu.Lock() // the receive goroutine reads the clock after taking it
	w.primary.sign.now = func() int64 {
		d := skew.Load()
		if d == 0 {
			fresh.Add(1)
		}
		return time.Now().UnixMilli() + d
	}
	w.mu.Unlock()
	skew.Store(-time.Hour.Milliseconds())
	proxy.Down()
	require.ErrorIs(t, w.Publish(context.Background(), "x"), ErrQueued)
	// Every publish stamped an hour ago must be over before Redis is back,
	// or it could land and be taken for delivered: the first attempt once
	// its failure is counted, the drainer's once it stamps a new one.
	require.Eventually(t, func() bool { return w.Stats().PublishErrors == 1 }, 10*time.Second, 5*time.Millisecond)
	skew.Store(0)
	require.Eventually(t, func() bool { return fresh.Load() > 0 }, 10*time.Second, 5*time.Millisecond, "the drainer does not sign its retries anew")
	proxy.Up()

	require.Eventually(t, func() bool { return h.inv.Load() == 1 }, 10*time.Second, 5*time.Millisecond, "the queued invalidation was lost")
	st := r.Stats()
	require.Zero(t, st.RefusedStale+st.RefusedForged+st.RefusedUnsigned)
	require.Equal(t, uint64(1), st.Applied)
	// The drainer counts its retry after the publish returns, which may be
	// after the reader has applied it.
	require.Eventually(t, func() bool { return w.Stats().Retried == 1 }, 10*time.Second, 5*time.Millisecond, "delivered by the drainer")
}
