package bridge

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"sync"
	"unsafe"
)

// MinKeyBytes is the shortest signing key a Keyring takes: 128 bits, what
// HMAC-SHA256 needs from a random key to be out of reach of guessing. A
// password is not a key: derive one, or generate 32 random bytes.
const MinKeyBytes = 16

// ErrUnknownKey and ErrBadMAC are the reasons Keyring.Verify refuses.
var (
	ErrUnknownKey = errors.New("signed with a key this keyring does not hold")
	ErrBadMAC     = errors.New("MAC does not match")
)

// Keyring holds the HMAC-SHA256 keys that authenticate channel messages and
// shared values. The first key signs; every key verifies, so that a fleet
// can rotate keys without a moment where some instance refuses another's
// messages: add the new key after the old one everywhere, then put it
// first everywhere, then drop the old one. A Keyring is immutable and safe
// for concurrent use.
type Keyring struct {
	keys []ringKey
}

// ringKey is one key, known by its ID, with a pool of keyed HMAC states:
// hmac.New costs a few allocations and two hashes of the key, Reset none.
type ringKey struct {
	id   string
	pool *sync.Pool // of *macState
}

// macState is a keyed HMAC with the scratch space a MAC needs. What goes
// through hash.Hash's methods escapes, so a length's digits or a MAC to
// compare on the caller's stack would cost an allocation per message; in
// the pooled state they cost none.
type macState struct {
	h      hash.Hash
	digits [20]byte
	sum    [sha256.Size]byte
}

// NewKeyring returns a keyring of keys, the first one signing. It copies
// the keys, so the caller may wipe or reuse its slices. It fails on no key,
// a key shorter than MinKeyBytes, or the same key twice.
func NewKeyring(keys ...[]byte) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("no key")
	}
	r := &Keyring{keys: make([]ringKey, 0, len(keys))}
	seen := make(map[string]int, len(keys))
	for i, key := range keys {
		if len(key) < MinKeyBytes {
			return nil, fmt.Errorf("key %d is %d bytes; at least %d are needed (use 32 random bytes)", i, len(key), MinKeyBytes)
		}
		id := KeyID(key)
		if j, dup := seen[id]; dup {
			return nil, fmt.Errorf("keys %d and %d are the same key", j, i)
		}
		seen[id] = i
		key := append([]byte(nil), key...)
		r.keys = append(r.keys, ringKey{id: id, pool: &sync.Pool{
			New: func() any { return &macState{h: hmac.New(sha256.New, key)} },
		}})
	}
	return r, nil
}

// KeyID names key on the wire, so that a receiver knows which of its keys
// to verify with without trying each: the first 4 bytes, in lowercase hex,
// of HMAC-SHA256(key, "slotcache key id"). It reveals nothing usable about
// a key of MinKeyBytes or more.
func KeyID(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("slotcache key id"))
	return hex.EncodeToString(m.Sum(nil)[:4])
}

// SignerID is the ID of the key that signs.
func (r *Keyring) SignerID() string { return r.keys[0].id }

// IDs lists the IDs of every key, the signing one first.
func (r *Keyring) IDs() []string {
	ids := make([]string, len(r.keys))
	for i, k := range r.keys {
		ids[i] = k.id
	}
	return ids
}

// Sign returns the signing key's ID and the MAC under it of fields, each
// as a netstring (see MACInput), appended to dst.
func (r *Keyring) Sign(dst []byte, fields ...string) (id string, mac []byte) {
	k := &r.keys[0]
	st := k.hash(fields)
	mac = append(dst, st.h.Sum(st.sum[:0])...)
	k.pool.Put(st)
	return k.id, mac
}

// Verify checks that mac is the MAC of fields under the key named id. It
// compares in constant time.
func (r *Keyring) Verify(id string, mac []byte, fields ...string) error {
	for i := range r.keys {
		k := &r.keys[i]
		if k.id != id {
			continue
		}
		st := k.hash(fields)
		equal := hmac.Equal(st.h.Sum(st.sum[:0]), mac)
		k.pool.Put(st)
		if !equal {
			return ErrBadMAC
		}
		return nil
	}
	return ErrUnknownKey
}

// hash returns a pooled state that has hashed fields (see MACInput), for
// the caller to Sum and put back. The fields go into the hash as they
// are, not copied into one buffer first: a shared value may be large.
func (k *ringKey) hash(fields []string) *macState {
	st := k.pool.Get().(*macState)
	h := st.h
	h.Reset()
	for _, f := range fields {
		h.Write(strconv.AppendInt(st.digits[:0], int64(len(f)), 10))
		h.Write(colon)
		// io.Writer's contract forbids Write to modify or retain p, so
		// the string's bytes can go in without a copy.
		h.Write(unsafe.Slice(unsafe.StringData(f), len(f)))
		h.Write(comma)
	}
	return st
}

var colon, comma = []byte{':'}, []byte{','}

// ParseMAC reads a whole MAC as signatures carry it, in unpadded base64url,
// and reports whether text is one: what a message's _sig and a shared
// value's header both end with, read by one piece of code.
func ParseMAC(text string) (mac [sha256.Size]byte, ok bool) {
	if base64.RawURLEncoding.DecodedLen(len(text)) != len(mac) {
		return mac, false
	}
	n, err := base64.RawURLEncoding.Decode(mac[:], []byte(text))
	return mac, err == nil && n == len(mac)
}

// MACInput returns what the MAC of fields is computed over: each field as a
// netstring, "<length>:<field>,", the length in decimal bytes, one after
// the other. No two different sequences of fields, whatever bytes they
// hold, give the same input. It is the reference for other
// implementations (README, "Signed messages"); Sign and Verify hash the
// same bytes without building them.
func MACInput(fields ...string) []byte {
	var dst []byte
	for _, f := range fields {
		dst = strconv.AppendInt(dst, int64(len(f)), 10)
		dst = append(dst, ':')
		dst = append(dst, f...)
		dst = append(dst, ',')
	}
	return dst
}
