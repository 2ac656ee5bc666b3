package bridge_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/bridge"
	"github.com/slotcache/slotcache/internal/redistest"
)

// Fill notices (WithFill) share the invalidation channel. They carry no
// slotId, so the seed's Node module, which deletes parsed.slotId for any
// message with a string slotId, never takes one for an invalidation.

func TestEncodeFilledBytes(t *testing.T) {
	require.Equal(t, `{"filled":"compat:a<b>&c","_origin":"o"}`, string(bridge.EncodeFilled("compat:a<b>&c", "o")))
	require.Equal(t, `{"filled":"a\"b\\c\n","_origin":""}`, string(bridge.EncodeFilled("a\"b\\c\n", "")))
}

func TestDecodeNotice(t *testing.T) {
	valid := []struct {
		name, payload string
		want          bridge.Notice
	}{
		{"invalidation", `{"slotId":"s","_origin":"o"}`, bridge.Notice{SlotID: "s", Origin: "o"}},
		{"filled", `{"filled":"s","_origin":"o"}`, bridge.Notice{Filled: "s", Origin: "o"}},
		{"filled without origin is foreign", `{"filled":"s"}`, bridge.Notice{Filled: "s"}},
		{"round trip", string(bridge.EncodeFilled(`we"ird<&>`, "o")), bridge.Notice{Filled: `we"ird<&>`, Origin: "o"}},
		// The seed module would invalidate on such a message: so do we.
		{"both: an invalidation", `{"slotId":"s","filled":"t","_origin":"o"}`, bridge.Notice{SlotID: "s", Origin: "o"}},
		{"both, odd filled: still an invalidation", `{"slotId":"s","filled":5}`, bridge.Notice{SlotID: "s"}},
		{"null slotId, filled", `{"slotId":null,"filled":"s"}`, bridge.Notice{Filled: "s"}},
	}
	for _, tc := range valid {
		t.Run(tc.name, func(t *testing.T) {
			n, err := bridge.DecodeNotice(tc.payload, testMaxBytes)
			require.NoError(t, err)
			require.Equal(t, tc.want, n)
		})
	}

	malformed := []struct{ name, payload string }{
		{"neither slotId nor filled", `{"_origin":"o"}`},
		{"empty object", `{}`},
		{"empty filled", `{"filled":""}`},
		{"null filled", `{"filled":null}`},
		{"numeric filled", `{"filled":5}`},
		{"array filled", `{"filled":["s"]}`},
		{"wrong case Filled", `{"Filled":"s"}`},
		{"numeric origin", `{"filled":"s","_origin":5}`},
		{"numeric slotId hides filled", `{"slotId":5,"filled":"s"}`},
		{"over the limit", `{"filled":"` + strings.Repeat("x", testMaxBytes) + `"}`},
		{"not JSON", `filled`},
	}
	for _, tc := range malformed {
		t.Run(tc.name, func(t *testing.T) {
			n, err := bridge.DecodeNotice(tc.payload, testMaxBytes)
			require.ErrorIs(t, err, bridge.ErrMalformed)
			require.Zero(t, n)
		})
	}
}

// TestDecodeRejectsFilled keeps Decode what it was: a decoder of
// invalidations, to which a fill notice is malformed.
func TestDecodeRejectsFilled(t *testing.T) {
	slot, origin, err := bridge.Decode(`{"filled":"s","_origin":"o"}`, testMaxBytes)
	require.ErrorIs(t, err, bridge.ErrMalformed)
	require.Empty(t, slot)
	require.Empty(t, origin)
}

// TestFilledNoticesReachHandler checks that a foreign fill notice reaches
// Handler.Filled, that our own is skipped like an echo, and that neither
// is taken for an invalidation.
func TestFilledNoticesReachHandler(t *testing.T) {
	srv := redistest.Start(t)
	ch := uniqueChannel(t)
	rec := newRecorder()
	b := startBridge(t, srv.Client(t), ch, "origin-a", rec)
	waitReady(t, b)
	rec.expect(t, "resync")

	raw := srv.Client(t)
	publish(t, raw, ch, string(bridge.EncodeFilled("mine", "origin-a")))
	publish(t, raw, ch, string(bridge.EncodeFilled("compat:x", "origin-b")))
	publish(t, raw, ch, `{"filled":"compat:y"}`)
	publish(t, raw, ch, `{"_origin":"origin-b"}`)
	publish(t, raw, ch, `{"slotId":"sentinel","_origin":"origin-b"}`)

	rec.expect(t, "filled:compat:x", "filled:compat:y", "inv:sentinel")
	st := b.Stats()
	require.Equal(t, uint64(2), st.Filled)
	require.Equal(t, uint64(1), st.Applied)
	require.Equal(t, uint64(1), st.Echoes)
	require.Equal(t, uint64(1), st.Malformed)

	b.ResetStats()
	require.Zero(t, b.Stats().Filled)
}

func FuzzDecodeNotice(f *testing.F) {
	for _, s := range []string{
		`{"filled":"s","_origin":"o"}`,
		`{"slotId":"s","filled":"t"}`,
		`{"filled":""}`,
		`{"filled":5}`,
		`{"slotId":null,"filled":"x"}`,
		`{}`,
	} {
		f.Add(s)
	}
	const maxBytes = 128
	f.Fuzz(func(t *testing.T, payload string) {
		n, err := bridge.DecodeNotice(payload, maxBytes)
		if err != nil {
			require.ErrorIs(t, err, bridge.ErrMalformed)
			require.Zero(t, n)
			return
		}
		// Exactly one kind of message, never both, never neither.
		require.True(t, (n.SlotID == "") != (n.Filled == ""), "%q decoded as %+v", payload, n)
		if n.Filled != "" {
			back, err := bridge.DecodeNotice(string(bridge.EncodeFilled(n.Filled, n.Origin)), 1<<20)
			require.NoError(t, err)
			require.Equal(t, n, back)
		}
	})
}
