package bridge_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/bridge"
	"github.com/slotcache/slotcache/internal/redistest"
)

var (
	keyA = []byte("0123456789abcdef0123456789abcdef")
	keyB = []byte("fedcba9876543210fedcba9876543210")
)

// withSigning makes a bridge sign its primary channel with keys.
func withSigning(t *testing.T, acceptUnsigned bool, keys ...[]byte) bridgeOpt {
	r, err := bridge.NewKeyring(keys...)
	require.NoError(t, err)
	return func(c *bridge.Config) { c.Signing = &bridge.Signing{Keys: r, AcceptUnsigned: acceptUnsigned} }
}

// signedMessage is a channel message signed by hand, as README tells
// another implementation to (bridge.SpecSign): fields are the JSON fields
// of the kind's message, in the order of the kind's MAC fields.
func signedMessage(key []byte, channel, kind string, ts int64, nonce string, names []string, fields ...string) string {
	m := map[string]any{"_ts": ts, "_sig": bridge.SpecSign(key, channel, kind, ts, nonce, fields...)}
	for i, name := range names {
		if fields[i] != "" {
			m[name] = fields[i]
		}
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func signedInvalidation(key []byte, channel, slotID string, ts int64, nonce string) string {
	return signedMessage(key, channel, "invalidate", ts, nonce, []string{"slotId", "_origin", "confirm"}, slotID, "raw-client", "")
}

// TestSignedChannelRefusesByReason: a bridge that requires signatures
// applies only genuine, fresh, first-seen messages, and counts the others
// by reason: unsigned, forged (another key), stale (an hour old) and
// replayed (published twice). Redis delivers in order, so once the last
// message is applied, every earlier one was judged.
func TestSignedChannelRefusesByReason(t *testing.T) {
	srv := redistest.Start(t)
	ch := uniqueChannel(t)
	rec := newRecorder()
	b := startBridge(t, srv.Client(t), ch, "origin-a", rec, withSigning(t, false, keyA))
	waitReady(t, b)
	require.Equal(t, "resync", rec.next(t))

	raw := srv.Client(t)
	now := time.Now().UnixMilli()
	publish(t, raw, ch, `{"slotId":"unsigned","_origin":"raw-client"}`)
	publish(t, raw, ch, signedInvalidation(keyB, ch, "forged", now, "n1"))
	publish(t, raw, ch, signedInvalidation(keyA, ch, "stale", now-time.Hour.Milliseconds(), "n2"))
	publish(t, raw, ch, signedInvalidation(keyA, "other-channel", "moved", now, "n3"))
	genuine := signedInvalidation(keyA, ch, "genuine", now, "n4")
	publish(t, raw, ch, genuine)
	publish(t, raw, ch, genuine)
	publish(t, raw, ch, signedInvalidation(keyA, ch, bridge.All, now, "n5"))

	rec.expect(t, "inv:genuine", "all")
	st := b.Stats()
	require.Equal(t, uint64(2), st.Applied)
	require.Equal(t, uint64(1), st.RefusedUnsigned)
	require.Equal(t, uint64(2), st.RefusedForged, "another key, and a message moved from another channel")
	require.Equal(t, uint64(1), st.RefusedStale)
	require.Equal(t, uint64(1), st.RefusedReplayed)
	require.Zero(t, st.Malformed)
	require.Zero(t, st.UnsignedAccepted)

	b.ResetStats()
	st = b.Stats()
	require.Zero(t, st.RefusedUnsigned+st.RefusedForged+st.RefusedStale+st.RefusedReplayed, "ResetStats kept refusals")
}

// TestSigningMigrationModeAcceptsUnsigned: in migration mode a bridge
// applies unsigned messages (and counts them, so that operators see when
// nobody sends any more), still refuses forged ones, and its own messages
// are signed yet applied by a bridge that does not sign.
func TestSigningMigrationModeAcceptsUnsigned(t *testing.T) {
	srv := redistest.Start(t)
	ch := uniqueChannel(t)
	plainRec, migRec := newRecorder(), newRecorder()
	plain := startBridge(t, srv.Client(t), ch, "origin-plain", plainRec)
	mig := startBridge(t, srv.Client(t), ch, "origin-mig", migRec, withSigning(t, true, keyA))
	waitReady(t, plain)
	waitReady(t, mig)

	ctx := context.Background()
	require.NoError(t, plain.Publish(ctx, "from-plain"))
	require.Equal(t, "inv:from-plain", migRec.skipResyncs(t))
	require.NoError(t, mig.Publish(ctx, "from-mig"))
	require.Equal(t, "inv:from-mig", plainRec.skipResyncs(t))
	publish(t, srv.Client(t), ch, signedInvalidation(keyB, ch, "forged", time.Now().UnixMilli(), "n1"))
	require.NoError(t, plain.Publish(ctx, "end"))
	require.Equal(t, "inv:end", migRec.skipResyncs(t), "the forged message was not applied")

	st := mig.Stats()
	require.Equal(t, uint64(2), st.UnsignedAccepted)
	require.Equal(t, uint64(1), st.RefusedForged)
	require.Zero(t, plain.Stats().Malformed, "signed messages are well formed to a bridge that does not sign")
}

// TestForgedAnswersDoNotConfirm: among signing bridges a confirmed
// invalidation is answered with signed acks; an answer forged by a plain
// client (unsigned, or signed with another key) is refused and counted,
// so it cannot fake a confirmation; the same client answering with the key
// is heard.
func TestForgedAnswersDoNotConfirm(t *testing.T) {
	srv := redistest.Start(t)
	ch := uniqueChannel(t)
	w := startBridge(t, srv.Client(t), ch, "origin-w", newRecorder(), withSigning(t, false, keyA))
	peer := startBridge(t, srv.Client(t), ch, "origin-p", newRecorder(), withSigning(t, false, keyA))
	waitReady(t, w)
	waitReady(t, peer)

	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	require.NoError(t, w.Primary().PublishConfirmed(ctx, "x"), "signed answers are heard")

	raw := srv.Client(t)
	ps := rawSubscribe(t, raw, ch)
	ackCh := ch + ":ack:origin-w"
	confirm := func(slotID string) (id string, done <-chan error, cancel func()) {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		errc := make(chan error, 1)
		go func() { errc <- w.Primary().PublishConfirmed(ctx, slotID) }()
		var req struct {
			Confirm string `json:"confirm"`
		}
		require.NoError(t, json.Unmarshal([]byte(receive(t, ps).Payload), &req))
		require.NotEmpty(t, req.Confirm)
		return req.Confirm, errc, cancel
	}

	id, done, stop := confirm("y")
	publish(t, raw, ackCh, `{"ack":"`+id+`","_origin":"forger"}`)
	publish(t, raw, ackCh, signedMessage(keyB, ackCh, "ack", time.Now().UnixMilli(), "n1", []string{"ack", "_origin"}, id, "forger"))
	require.Eventually(t, func() bool {
		st := w.Stats()
		return st.RefusedUnsigned == 1 && st.RefusedForged == 1
	}, waitFor, poll)
	stop()
	err := <-done
	require.ErrorIs(t, err, bridge.ErrUnconfirmed)
	require.ErrorContains(t, err, "1 of 3 subscribers did not answer")

	id, done, stop = confirm("z")
	defer stop()
	publish(t, raw, ackCh, signedMessage(keyA, ackCh, "ack", time.Now().UnixMilli(), "n2", []string{"ack", "_origin"}, id, "raw-client"))
	require.NoError(t, <-done, "an answer signed with the key counts")
}

// TestForgedHeartbeatIgnored: a heartbeat published by another client on
// the bridge's heartbeat channel, dated far in the future, would make the
// engine believe it had heard every invalidation until then (the staleness
// watermark). It is counted and ignored: the watermark stays in the past.
func TestForgedHeartbeatIgnored(t *testing.T) {
	srv := redistest.Start(t)
	ch := uniqueChannel(t)
	rec := newRecorder()
	b := startBridge(t, srv.Client(t), ch, "origin-a", rec, withHeartbeat(50*time.Millisecond))
	waitReady(t, b)
	require.Eventually(t, func() bool { return rec.watermark.Load() != nil }, waitFor, poll, "genuine heartbeats set the watermark")

	raw := srv.Client(t)
	hb := ch + ":heartbeat:origin-a"
	publish(t, raw, hb, "origin-a@4611686018427387903")                        // the unsealed format
	publish(t, raw, hb, "origin-a@4611686018427387903.AAAAAAAAAAAAAAAAAAAAAA") // a guessed MAC
	require.Eventually(t, func() bool { return b.Stats().ForgedHeartbeats == 2 }, waitFor, poll)
	seen := *rec.watermark.Load()
	require.Eventually(t, func() bool { return rec.watermark.Load().After(seen) }, waitFor, poll, "genuine heartbeats still count")
	require.True(t, rec.watermark.Load().Before(time.Now()), "a forged heartbeat moved the watermark to %v", rec.watermark.Load())
}
