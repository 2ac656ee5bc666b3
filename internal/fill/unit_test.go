package fill

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// hashTag is the part of key that Redis Cluster hashes: the text between
// the first '{' and the first '}' after it, if not empty; else the key.
func hashTag(key string) string {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key[i+1 : i+1+j]
		}
	}
	return key
}

func TestKeysShareClusterSlot(t *testing.T) {
	c := New(Config{Prefix: "app:fill:"})
	seen := map[string]string{}
	for _, id := range []string{"user:42", "", "*", "a}b", "}", "{", "{}", "a{b}c", "x}}{{y", "été/日本", "user:42}"} {
		k := c.keysFor("0123abcd", id)
		tag := hashTag(k.data)
		require.NotEqual(t, k.data, tag, "%q: the data key has no hash tag", id)
		require.Equal(t, tag, hashTag(k.lock), "%q: data and lock hash differently", id)
		require.True(t, strings.HasPrefix(tag, "app:fill:0123abcd:"), "%q: tag %q", id, tag)
		require.NotEqual(t, k.data, k.lock)
		require.NotEqual(t, c.genKey(), k.data)
		require.NotEqual(t, c.genKey(), k.lock)
		prev, dup := seen[k.data]
		require.False(t, dup, "%q and %q share a data key", id, prev)
		seen[k.data] = id
	}
	// Another namespace, other keys.
	require.NotEqual(t, c.keysFor("a", "s"), c.keysFor("b", "s"))
}

// jsonCodec is the tests' codec: JSON into any.
type jsonCodec struct{}

func (jsonCodec) Marshal(_ string, v any) ([]byte, error) { return json.Marshal(v) }
func (jsonCodec) Unmarshal(_ string, b []byte) (any, error) {
	var v any
	err := json.Unmarshal(b, &v)
	return v, err
}

// panicCodec panics, as a buggy codec might.
type panicCodec struct{}

func (panicCodec) Marshal(string, any) ([]byte, error)   { panic("marshal bug") }
func (panicCodec) Unmarshal(string, []byte) (any, error) { panic("unmarshal bug") }

func TestEnvelope(t *testing.T) {
	roundTrip := func(v any) any {
		t.Helper()
		b, err := encode(jsonCodec{}, "s", v)
		require.NoError(t, err)
		got, err := decode(jsonCodec{}, "s", string(b))
		require.NoError(t, err)
		return got
	}
	require.Nil(t, roundTrip(nil))
	require.Equal(t, []byte("raw\x00bytes"), roundTrip([]byte("raw\x00bytes")))
	require.Equal(t, []byte{}, roundTrip([]byte{}))
	require.Equal(t, map[string]any{"a": 1.0}, roundTrip(map[string]any{"a": 1}))
	require.Equal(t, "x", roundTrip("x"))

	// nil is a marker, distinct from an encoded null and from empty bytes.
	nilForm, _ := encode(jsonCodec{}, "s", nil)
	nullForm, _ := encode(jsonCodec{}, "s", json.RawMessage("null"))
	emptyForm, _ := encode(jsonCodec{}, "s", []byte{})
	require.Equal(t, "n", string(nilForm))
	require.NotEqual(t, nilForm, nullForm)
	require.NotEqual(t, nilForm, emptyForm)

	_, err := encode(jsonCodec{}, "s", make(chan int))
	require.Error(t, err)
	_, err = encode(panicCodec{}, "s", 1)
	require.ErrorContains(t, err, "marshal bug")
	// Bytes and nil never reach the codec.
	_, err = encode(panicCodec{}, "s", []byte("x"))
	require.NoError(t, err)

	for _, bad := range []string{"", "x", "nextra", "c{"} {
		_, err := decode(jsonCodec{}, "s", bad)
		require.Error(t, err, "%q", bad)
	}
	_, err = decode(panicCodec{}, "s", "c1")
	require.ErrorContains(t, err, "unmarshal bug")
}

func TestBackoffStaysWithinBounds(t *testing.T) {
	lo, hi := 10*time.Millisecond, 200*time.Millisecond
	b := newBackoff(lo, hi)
	sawAboveFirstCeiling := false
	for range 1000 {
		d := b.next()
		require.GreaterOrEqual(t, d, lo)
		require.LessOrEqual(t, d, hi)
		sawAboveFirstCeiling = sawAboveFirstCeiling || d > 2*lo
	}
	require.True(t, sawAboveFirstCeiling, "the ceiling never grew")
	// PollMin == PollMax: no jitter left, and no panic.
	same := newBackoff(lo, lo)
	require.Equal(t, lo, same.next())
}

func TestWakeups(t *testing.T) {
	var w wakeups
	ch1, done1 := w.watch("a")
	ch2, done2 := w.watch("a")
	chB, doneB := w.watch("b")
	w.fire("a")
	<-ch1
	<-ch2
	select {
	case <-chB:
		t.Fatal("b woken by a's notice")
	default:
	}
	// A new watcher of a waits for the next notice.
	ch3, done3 := w.watch("a")
	select {
	case <-ch3:
		t.Fatal("a new watcher saw an old notice")
	default:
	}
	w.fire("nobody") // no watcher: nothing happens
	for _, d := range []func(){done1, done2, done3, doneB} {
		d()
	}
	require.Empty(t, w.byslot, "entries outlive their watchers")

	ch4, done4 := w.watch("c")
	w.close()
	<-ch4
	done4()
	ch5, done5 := w.watch("c")
	<-ch5 // closed: watchers return at once
	done5()
}

func TestWakeupsConcurrent(t *testing.T) {
	var w wakeups
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				ch, done := w.watch("s")
				w.fire("s")
				<-ch
				done()
			}
		})
	}
	wg.Wait()
	require.Empty(t, w.byslot)
}

func TestParseFound(t *testing.T) {
	f, err := parseFound([]any{int64(1), "nv", int64(1500)}, nil)
	require.NoError(t, err)
	require.Equal(t, found{state: stateHit, data: "nv", ttl: 1500 * time.Millisecond}, f)
	f, err = parseFound([]any{int64(1), "nv", int64(-1)}, nil)
	require.NoError(t, err)
	require.Zero(t, f.ttl, "no expiry leaves the TTL to the engine")
	f, err = parseFound([]any{int64(1), "nv", int64(0)}, nil)
	require.NoError(t, err)
	require.Equal(t, time.Millisecond, f.ttl, "a key in its last millisecond is not immortal")
	f, err = parseFound([]any{int64(2)}, nil)
	require.NoError(t, err)
	require.Equal(t, stateLeader, f.state)
	for _, bad := range []any{nil, "x", []any{}, []any{int64(9)}, []any{int64(1), "v"}, []any{"1"}} {
		_, err := parseFound(bad, nil)
		require.Error(t, err, "%#v", bad)
	}
	boom := errors.New("boom")
	_, err = parseFound(nil, boom)
	require.ErrorIs(t, err, boom)
}

func TestOutcomeNames(t *testing.T) {
	seen := map[string]bool{}
	for o := range numOutcomes {
		name := o.String()
		require.NotEqual(t, "unknown", name)
		require.False(t, seen[name])
		seen[name] = true
	}
	require.Equal(t, "unknown", numOutcomes.String())
}
