package bridge

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
)

// specSign signs a message the way README's "Signed messages" tells
// another implementation to, written from the text, not from the code:
// HMAC-SHA256 over netstrings of the domain, the channel, the kind, the
// decimal timestamp, the nonce and the kind's fields; the key ID is the
// first 4 bytes of HMAC-SHA256(key, "slotcache key id") in hex. Tests that
// accept what it makes check that the text and the code agree.
func specSign(key []byte, channel, kind string, ts int64, nonce string, fields ...string) string {
	var in []byte
	for _, f := range append([]string{"slotcache/msg/v1", channel, kind, strconv.FormatInt(ts, 10), nonce}, fields...) {
		in = fmt.Appendf(in, "%d:%s,", len(f), f)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(in)
	id := hmac.New(sha256.New, key)
	id.Write([]byte("slotcache key id"))
	return "v1." + hex.EncodeToString(id.Sum(nil)[:4]) + "." + nonce + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// SpecSign is specSign for the tests of package bridge_test.
var SpecSign = specSign
