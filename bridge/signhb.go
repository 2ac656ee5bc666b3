package bridge

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"strconv"
	"strings"
	"sync/atomic"
)

// heartbeatSeal authenticates a bridge's heartbeats. Its echo is a
// watermark (see echo), so a heartbeat published by anyone else, with a
// send time in the future, would let every cached entry pass the staleness
// bound while invalidations are being lost. Only the bridge itself reads
// its heartbeat channel, so the key is its own: random per bridge, never
// sent, no configuration, and heartbeats are authenticated whether or not
// the channels sign. The payload is
//
//	<origin>@<send time, ns since the bridge started>.<MAC>
//
// with a 128-bit HMAC-SHA256 in unpadded base64url, over the netstrings
// "slotcache/hb/v1", the heartbeat channel and the text before the '.'.
// An echo older than the newest accepted one proves nothing new and is
// dropped, so a copied heartbeat cannot be replayed either.
type heartbeatSeal struct {
	keys *Keyring
	last atomic.Int64 // send time of the newest accepted echo
}

func newHeartbeatSeal() *heartbeatSeal {
	var key [32]byte
	_, _ = rand.Read(key[:]) // crypto/rand.Read never fails
	keys, _ := NewKeyring(key[:])
	return &heartbeatSeal{keys: keys}
}

const hbDomain = "slotcache/hb/v1"

// hbMACBytes is the heartbeat MAC's length: 128 bits, as nobody but the
// bridge verifies it and a forgery gains one watermark at most.
const hbMACBytes = 16

func (h *heartbeatSeal) mac(channel, text string) []byte {
	_, mac := h.keys.Sign(nil, hbDomain, channel, text)
	return mac[:hbMACBytes]
}

// seal returns the payload of a heartbeat of origin on channel, sent at
// sent.
func (h *heartbeatSeal) seal(channel, origin string, sent int64) string {
	text := origin + "@" + strconv.FormatInt(sent, 10)
	return text + "." + base64.RawURLEncoding.EncodeToString(h.mac(channel, text))
}

// open returns the send time of a heartbeat received on channel. forged
// reports a payload this bridge did not seal; ok is false for it, and for
// an echo not newer than the newest one accepted.
func (h *heartbeatSeal) open(channel, payload string) (sent int64, ok, forged bool) {
	i := strings.LastIndexByte(payload, '.')
	if i < 0 {
		return 0, false, true
	}
	text, mac := payload[:i], payload[i+1:]
	got, err := base64.RawURLEncoding.DecodeString(mac)
	if err != nil || !hmac.Equal(got, h.mac(channel, text)) {
		return 0, false, true
	}
	j := strings.LastIndexByte(text, '@')
	if j < 0 {
		return 0, false, true // sealed by this bridge, so never
	}
	sent, err = strconv.ParseInt(text[j+1:], 10, 64)
	if err != nil {
		return 0, false, true
	}
	for {
		last := h.last.Load()
		if sent <= last {
			return 0, false, false
		}
		if h.last.CompareAndSwap(last, sent) {
			return sent, true, false
		}
	}
}
