package bridge

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// agree checks that the flat reading of p, when it takes p, is the generic
// decode's: same notice, same verdict.
func agree(t testing.TB, p string) (flat bool) {
	f, ok := decodeFlat(p)
	if !ok {
		return false
	}
	got, gotErr := f.notice()
	want, wantErr := decodeGeneric(p)
	if (gotErr != nil) != (wantErr != nil) || got != want {
		t.Fatalf("%q: flat %+v, %v; generic %+v, %v", p, got, gotErr, want, wantErr)
	}
	return true
}

var flatSeeds = []string{
	`{"slotId":"compat:deepseek","_origin":"a"}`,
	`{"filled":"x","_origin":"a"}`,
	`{"slotId":"*","_origin":null}`,
	`{"slotId":"s"}`,
	`{}`,
	`{"slotId":""}`,
	`{"slotId":"","filled":"f"}`,
	`{"slotId":"s","filled":5}`,
	`{"slotId":5}`,
	`{"slotId":null,"filled":"f","confirm":"c"}`,
	`{"slotId":"s","confirm":"c","_origin":"o"}`,
	`{"slotId":"s","_origin":"o","_ts":1764489600000,"_sig":"v1.ab.cd.ef"}`,
	`{"slotId":"s","_sig":"v1","_ts":null}`,
	`{"slotId":"s","_sig":null,"_ts":12}`,
	`{"slotId":"s","_ts":12}`,
	`{"slotId":"s","_sig":"v","_ts":1.5}`,
	`{"slotId":"s","_sig":"v","_ts":"12"}`,
	`{"slotId":"s","_sig":"v","_ts":99999999999999999999}`,
	`{"slotId":"s","_sig":"v","_ts":-0}`,
	`{"slotId":"s","_sig":"v","_ts":012}`,
	`{"slotId":"s","_sig":5}`,
	`{"slotId":"a","slotId":"b"}`,
	`{"slotId":"a","slotId":null,"filled":"f"}`,
	`{"SlotID":"a","filled":"f"}`,
	`{"slotId":"é\u00e9"}`,
	`{"slotId":"é"}`,
	"{\"slotId\":\"\xff\"}",
	"{\"slotId\":\"a\tb\"}",
	`{"slotId": "s"}`,
	` {"slotId":"s"}`,
	`{"slotId":"s"}x`,
	`{"slotId":"s",}`,
	`{"slotId":"s","x":true}`,
	`{"slotId":"s","x":{"y":1}}`,
	`{"slotId":"s","x":[1]}`,
	`{"slotId":"s","x":-12,"y":null}`,
	`{"slotId":"s"`,
	`[1]`,
	`"s"`,
	`{"slotId":"s\"}`,
}

// The flat reading agrees with the generic decode on every message it
// takes, and takes what instances send: the seed's JSON, fill notices,
// signed and confirmed invalidations.
func TestDecodeFlatAgrees(t *testing.T) {
	for _, p := range flatSeeds {
		agree(t, p)
	}
	for _, p := range []string{
		string(Encode("compat:deepseek", "0123456789abcdef")),
		string(Encode(All, "o")),
		string(EncodeFilled("user:42", "o")),
		`{"slotId":"s","_origin":"o","confirm":"c1"}`,
		`{"slotId":"s","_origin":"o","_ts":1764489600000,"_sig":"v1.ab.n.mac"}`,
	} {
		assert.True(t, agree(t, p), "%s: the flat reading should take it", p)
	}
}

// Random flat-looking messages, with every kind of value and a sprinkle of
// what the flat reading must leave to the generic decode.
func TestDecodeFlatAgreesOnRandomMessages(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	keys := []string{"slotId", "filled", "_origin", "confirm", "_sig", "_ts", "x", "SlotId"}
	values := []string{`"s"`, `""`, `"*"`, `null`, `0`, `-7`, `12`, `1.5`, `1e3`, `true`, `{}`, `[]`, `"a\"b"`, `"é"`, "\"\xfe\"", `01`, `99999999999999999999`}
	flat := 0
	for range 20000 {
		var b strings.Builder
		b.WriteByte('{')
		for i := range r.IntN(5) {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`"` + keys[r.IntN(len(keys))] + `":`)
			if r.IntN(40) == 0 {
				b.WriteByte(' ')
			}
			b.WriteString(values[r.IntN(len(values))])
		}
		b.WriteByte('}')
		if agree(t, b.String()) {
			flat++
		}
	}
	require.Greater(t, flat, 1000, "the flat reading took too few to mean anything")
}

// FuzzDecodeFlat: `go test -fuzz DecodeFlat ./bridge` looks for a message
// the two readings disagree on; the seeds run with every `go test`.
func FuzzDecodeFlat(f *testing.F) {
	for _, p := range flatSeeds {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) { agree(t, p) })
}
