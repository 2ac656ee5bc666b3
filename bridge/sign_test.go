package bridge_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/bridge"
)

func TestNewKeyringRefusesBadKeys(t *testing.T) {
	long := make([]byte, bridge.MinKeyBytes)
	for name, keys := range map[string][][]byte{
		"no key":         nil,
		"empty key":      {{}},
		"short key":      {make([]byte, bridge.MinKeyBytes-1)},
		"short older":    {long, []byte("pw")},
		"same key twice": {long, append([]byte(nil), long...)},
	} {
		_, err := bridge.NewKeyring(keys...)
		require.Error(t, err, name)
	}
	_, err := bridge.NewKeyring(long)
	require.NoError(t, err)
}

// TestKeyringSignVerify: the first key signs, every key verifies, the
// keyring copies its keys, and a MAC is bound to its key and fields.
func TestKeyringSignVerify(t *testing.T) {
	oldKey := []byte("old-key-0123456789abcdef")
	newKey := []byte("new-key-0123456789abcdef")
	during, err := bridge.NewKeyring(newKey, oldKey) // rotating: new signs, old still verifies
	require.NoError(t, err)
	before, err := bridge.NewKeyring(oldKey)
	require.NoError(t, err)
	after, err := bridge.NewKeyring(newKey)
	require.NoError(t, err)
	require.Equal(t, bridge.KeyID(newKey), during.SignerID())
	require.Equal(t, []string{bridge.KeyID(newKey), bridge.KeyID(oldKey)}, during.IDs())

	id, mac := before.Sign(nil, "a", "b")
	require.NoError(t, during.Verify(id, mac, "a", "b"), "an old signature verifies during the rotation")
	require.ErrorIs(t, after.Verify(id, mac, "a", "b"), bridge.ErrUnknownKey, "and not after it")
	require.ErrorIs(t, before.Verify(id, mac, "a", "c"), bridge.ErrBadMAC)
	require.ErrorIs(t, before.Verify(id, mac, "ab"), bridge.ErrBadMAC, "fields are not concatenated")
	require.ErrorIs(t, before.Verify(id, mac, "a", "b", ""), bridge.ErrBadMAC, "an empty field counts")

	id, mac = during.Sign(nil, "a", "b")
	require.NoError(t, after.Verify(id, mac, "a", "b"))

	key := []byte("mutable-0123456789abcdef")
	r, err := bridge.NewKeyring(key)
	require.NoError(t, err)
	id, mac = r.Sign(nil, "x")
	for i := range key {
		key[i] = 0 // the caller wipes its copy
	}
	require.NoError(t, r.Verify(id, mac, "x"), "the keyring kept its own copy")
}

// TestMACSpec pins the MAC input and key ID to README's text: netstrings,
// and the first 4 bytes of HMAC-SHA256(key, "slotcache key id").
func TestMACSpec(t *testing.T) {
	require.Equal(t, "1:a,0:,5:é€,", string(bridge.MACInput("a", "", "é€")))
	key := []byte("spec-key-0123456789abcdef")
	m := hmac.New(sha256.New, key)
	m.Write([]byte("slotcache key id"))
	require.Equal(t, hex.EncodeToString(m.Sum(nil)[:4]), bridge.KeyID(key))

	r, err := bridge.NewKeyring(key)
	require.NoError(t, err)
	_, mac := r.Sign(nil, "x:y", "", "z")
	m = hmac.New(sha256.New, key)
	m.Write([]byte("3:x:y,0:,1:z,"))
	require.Equal(t, m.Sum(nil), mac)
}

// TestParseMAC: a MAC reads back from its wire text, and nothing that is
// not a whole MAC in unpadded base64url reads as one.
func TestParseMAC(t *testing.T) {
	r, err := bridge.NewKeyring([]byte("spec-key-0123456789abcdef"))
	require.NoError(t, err)
	_, mac := r.Sign(nil, "x")
	text := base64.RawURLEncoding.EncodeToString(mac)
	got, ok := bridge.ParseMAC(text)
	require.True(t, ok)
	require.Equal(t, mac, got[:])
	for name, bad := range map[string]string{
		"empty":     "",
		"short":     text[:len(text)-1],
		"long":      text + "A",
		"padded":    base64.URLEncoding.EncodeToString(mac),
		"std":       "+" + text[1:],
		"not text":  text[:len(text)-1] + ".",
		"truncated": base64.RawURLEncoding.EncodeToString(mac[:16]),
	} {
		_, ok := bridge.ParseMAC(bad)
		require.False(t, ok, name)
	}
}

// TestKeyringAllocations: checking a MAC allocates nothing, and making one
// nothing but what it returns past dst's capacity, so that a signing
// receiver's check of each message and a shared hit's verify cost no
// garbage.
func TestKeyringAllocations(t *testing.T) {
	if raceOn {
		t.Skip("the race detector drops pooled HMAC states")
	}
	r, err := bridge.NewKeyring([]byte("spec-key-0123456789abcdef"))
	require.NoError(t, err)
	id, mac := r.Sign(nil, "slotcache/msg/v1", "app:invalidate", "user:42")
	var dst [sha256.Size]byte
	require.Zero(t, testing.AllocsPerRun(100, func() {
		if r.Verify(id, mac, "slotcache/msg/v1", "app:invalidate", "user:42") != nil {
			t.Fatal("refused")
		}
	}), "Verify")
	require.Zero(t, testing.AllocsPerRun(100, func() {
		r.Sign(dst[:0], "slotcache/msg/v1", "app:invalidate", "user:42")
	}), "Sign into a buffer with room")
}
