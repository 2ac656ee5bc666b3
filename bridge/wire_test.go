package bridge_test

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/bridge"
)

// testMaxBytes is the size bound the Decode tests use; it matches the
// engine's default (DefaultMaxMessageBytes).
const testMaxBytes = 4 << 10

// TestEncodeSeedBytes pins the exact bytes of the seed module's
// JSON.stringify({ slotId, _origin }): key order, no spaces, and strings
// escaped the way JavaScript escapes them, so that a Node instance and a Go
// instance put identical messages on the channel.
func TestEncodeSeedBytes(t *testing.T) {
	tests := []struct {
		name, slotID, origin, want string
	}{
		{"seed slot", "compat:deepseek", "inst_1700000000000_abc123", `{"slotId":"compat:deepseek","_origin":"inst_1700000000000_abc123"}`},
		{"all", bridge.All, "o", `{"slotId":"*","_origin":"o"}`},
		{"hex origin", "compat:x", "0123456789abcdef0123456789abcdef", `{"slotId":"compat:x","_origin":"0123456789abcdef0123456789abcdef"}`},
		{"quote and backslash", `a"b\c`, "o", `{"slotId":"a\"b\\c","_origin":"o"}`},
		{"control characters", "a\nb\tc\rd\x01\x1f", "o", `{"slotId":"a\nb\tc\rd\u0001\u001f","_origin":"o"}`},
		// JSON.stringify leaves <, > and & alone; Go's default encoder
		// would write \u003c, \u003e and \u0026.
		{"html characters", "compat:a<b>&c", "o", `{"slotId":"compat:a<b>&c","_origin":"o"}`},
		{"non-ASCII", "compat:été-日本", "o", `{"slotId":"compat:été-日本","_origin":"o"}`},
		{"empty origin", "s", "", `{"slotId":"s","_origin":""}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, string(bridge.Encode(tc.slotID, tc.origin)))
		})
	}
}

// TestEncodeDecodeRoundTrip checks that whatever Encode writes, Decode reads
// back unchanged.
func TestEncodeDecodeRoundTrip(t *testing.T) {
	for _, tc := range []struct{ slotID, origin string }{
		{"compat:x", "o1"},
		{bridge.All, "o2"},
		{`we"ird\id` + "\n<&>\u2028", "o3"},
		{"s", ""},
		{strings.Repeat("k", 1000), strings.Repeat("o", 32)},
	} {
		slot, origin, err := bridge.Decode(string(bridge.Encode(tc.slotID, tc.origin)), testMaxBytes)
		require.NoError(t, err)
		require.Equal(t, tc.slotID, slot)
		require.Equal(t, tc.origin, origin)
	}
}

func TestDecode(t *testing.T) {
	valid := []struct {
		name, payload, slot, origin string
	}{
		{"seed message", `{"slotId":"compat:x","_origin":"inst_1_abc"}`, "compat:x", "inst_1_abc"},
		{"all", `{"slotId":"*","_origin":"inst_1_abc"}`, bridge.All, "inst_1_abc"},
		{"missing origin is foreign", `{"slotId":"compat:x"}`, "compat:x", ""},
		{"null origin is foreign", `{"slotId":"compat:x","_origin":null}`, "compat:x", ""},
		{"whitespace", " {\n \"_origin\" : \"o\" ,\t\"slotId\" : \"s\" }\n", "s", "o"},
		{"unknown fields allowed", `{"slotId":"s","_origin":"o","v":2,"extra":{"a":[1,2]}}`, "s", "o"},
		{"escapes", `{"slotId":"a\u003cb\"\\\n\u00e9"}`, "a<b\"\\\né", ""},
		{"duplicate key: last wins, as in JSON.parse", `{"slotId":"first","slotId":"second"}`, "second", ""},
		{"exactly at the limit", `{"slotId":"` + strings.Repeat("x", testMaxBytes-len(`{"slotId":""}`)) + `"}`, strings.Repeat("x", testMaxBytes-len(`{"slotId":""}`)), ""},
	}
	for _, tc := range valid {
		t.Run(tc.name, func(t *testing.T) {
			slot, origin, err := bridge.Decode(tc.payload, testMaxBytes)
			require.NoError(t, err)
			require.Equal(t, tc.slot, slot)
			require.Equal(t, tc.origin, origin)
		})
	}

	malformed := []struct{ name, payload string }{
		{"empty", ""},
		{"not JSON", "compat:x"},
		{"truncated", `{"slotId":"compat:x"`},
		{"trailing garbage", `{"slotId":"compat:x"} {}`},
		{"null", "null"},
		{"array", `["compat:x"]`},
		{"array of objects", `[{"slotId":"compat:x"}]`},
		{"string", `"compat:x"`},
		{"number", "5"},
		{"bool", "true"},
		{"empty object", "{}"},
		{"only origin", `{"_origin":"o"}`},
		{"numeric slotId", `{"slotId":5}`},
		{"object slotId", `{"slotId":{"id":"x"}}`},
		{"array slotId", `{"slotId":["x"]}`},
		{"bool slotId", `{"slotId":true}`},
		{"null slotId", `{"slotId":null}`},
		{"empty slotId", `{"slotId":""}`},
		{"numeric origin", `{"slotId":"s","_origin":5}`},
		{"object origin", `{"slotId":"s","_origin":{}}`},
		// The seed reads parsed.slotId, which is case-sensitive.
		{"wrong case SlotId", `{"SlotId":"compat:x"}`},
		{"wrong case slotid", `{"slotid":"compat:x"}`},
		{"wrong case SLOTID", `{"SLOTID":"compat:x","_origin":"o"}`},
		{"binary junk", "\x00\xff\xfe\x80\x01binary\x00"},
		{"one over the limit", `{"slotId":"` + strings.Repeat("x", testMaxBytes-len(`{"slotId":""}`)+1) + `"}`},
		{"1 MiB", `{"slotId":"s","pad":"` + strings.Repeat("a", 1<<20) + `"}`},
	}
	for _, tc := range malformed {
		t.Run(tc.name, func(t *testing.T) {
			slot, origin, err := bridge.Decode(tc.payload, testMaxBytes)
			require.ErrorIs(t, err, bridge.ErrMalformed)
			require.Empty(t, slot)
			require.Empty(t, origin)
		})
	}
}

// TestDecodeCaseSensitiveKeys checks that the exact-case key is the one
// used, whatever differently cased keys come with it, as JSON.parse does.
func TestDecodeCaseSensitiveKeys(t *testing.T) {
	slot, origin, err := bridge.Decode(`{"slotId":"right","SLOTID":"wrong","_origin":"o","_ORIGIN":"x"}`, testMaxBytes)
	require.NoError(t, err)
	require.Equal(t, "right", slot)
	require.Equal(t, "o", origin)
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"slotId":"compat:x","_origin":"inst_1_abc"}`,
		`{"slotId":"*"}`,
		`{"slotId":""}`,
		`{"slotId":5}`,
		`{"SlotId":"x"}`,
		`{"slotId":"x","_origin":null}`,
		`{"slotId":"\ud800"}`,
		`null`,
		`[]`,
		`{}`,
		"\x00\xff",
		`{"slotId":"` + strings.Repeat("x", 200) + `"}`,
	} {
		f.Add(s)
	}
	const maxBytes = 128
	f.Fuzz(func(t *testing.T, payload string) {
		slot, origin, err := bridge.Decode(payload, maxBytes)
		if err != nil {
			require.ErrorIs(t, err, bridge.ErrMalformed)
			require.Empty(t, slot)
			return
		}
		require.NotEmpty(t, slot, "accepted a message without a slotId: %q", payload)
		require.LessOrEqual(t, len(payload), maxBytes, "accepted an oversized message")
		require.True(t, json.Valid([]byte(payload)), "accepted invalid JSON: %q", payload)
		require.True(t, utf8.ValidString(slot))
		require.True(t, utf8.ValidString(origin))
		// What was accepted survives a round trip through the wire form.
		slot2, origin2, err := bridge.Decode(string(bridge.Encode(slot, origin)), 1<<20)
		require.NoError(t, err)
		require.Equal(t, slot, slot2)
		require.Equal(t, origin, origin2)
	})
}
