package slotcache

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/bridge"
	"github.com/slotcache/slotcache/internal/redistest"
)

// FromEnv reads the signing keys and the migration mode, in either base64
// alphabet, and fails New naming the variable, never quoting a key.
func TestFromEnvSigning(t *testing.T) {
	a, b := base64.StdEncoding.EncodeToString(sgKeyA), base64.RawURLEncoding.EncodeToString(sgKeyB)
	for _, tc := range []struct {
		name, keys, accept string
		want               [][]byte
		acceptUnsigned     bool
		err                string
	}{
		{name: "none"},
		{name: "one key", keys: a, want: [][]byte{sgKeyA}},
		{name: "rotation, url alphabet, spaces", keys: b + " , " + a, accept: "true", want: [][]byte{sgKeyB, sgKeyA}, acceptUnsigned: true},
		{name: "not base64", keys: a + ",not*base64", err: "SLOTCACHE_SIGNING_KEYS: key 2 is not base64"},
		{name: "too short", keys: base64.StdEncoding.EncodeToString([]byte("short")), err: "FromEnv"},
		{name: "bad flag", keys: a, accept: "maybe", err: `SLOTCACHE_SIGNING_ACCEPT_UNSIGNED must be true or false, got "maybe"`},
		{name: "flag alone", accept: "true", err: "without SLOTCACHE_SIGNING_KEYS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("REDIS_URL", "redis://127.0.0.1:1/0") // signing needs Redis; configure dials nothing
			t.Setenv("SLOTCACHE_SIGNING_KEYS", tc.keys)
			t.Setenv("SLOTCACHE_SIGNING_ACCEPT_UNSIGNED", tc.accept)
			cfg, err := configure(defaultConfig(), []Option{FromEnv()})
			if tc.err != "" {
				var oe *OptionError
				require.ErrorAs(t, err, &oe)
				assert.Equal(t, "FromEnv", oe.Option)
				assert.ErrorContains(t, err, tc.err)
				assert.NotContains(t, err.Error(), a, "a key in an error message")
				return
			}
			require.NoError(t, err)
			if tc.want == nil {
				assert.Nil(t, cfg.signing)
				return
			}
			require.NotNil(t, cfg.signing)
			assert.Equal(t, tc.acceptUnsigned, cfg.signing.acceptUnsigned)
			want, err := bridge.NewKeyring(tc.want...)
			require.NoError(t, err)
			assert.Equal(t, want.IDs(), cfg.signing.keys.IDs(), "the keys, the first signing")
		})
	}
}

// An engine configured from the environment alone requires signatures: a
// message signed with the key applies, an unsigned one is refused.
func TestFromEnvSigningEndToEnd(t *testing.T) {
	srv := redistest.Start(t)
	ch := rtChannel(t)
	t.Setenv("REDIS_URL", srv.URL())
	t.Setenv("SLOTCACHE_SIGNING_KEYS", base64.StdEncoding.EncodeToString(sgKeyA))
	e, err := New(FromEnv(), WithChannel(ch))
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	rtReady(t, e)
	var l rtLoader
	rtGet(t, e, "signed", &l)
	rtGet(t, e, "unsigned", &l)
	raw := srv.Client(t)
	rtPublish(t, raw, ch, `{"slotId":"unsigned","_origin":"`+seedOrigin+`"}`)
	rtPublish(t, raw, ch, sgInvalidation(sgKeyA, ch, "signed", time.Now().UnixMilli()))
	require.Eventually(t, func() bool { return !e.Cached("signed") }, rtWait, rtPoll)
	assert.True(t, e.Cached("unsigned"))
	assert.Equal(t, uint64(1), e.Stats().RefusedUnsigned)
}
