package fill

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/slotcache/slotcache/bridge"
)

// Signing authenticates the shared values of a coordinator
// (Config.Signing), so that a value written by anyone without the key,
// copied from another slot or namespace, or kept past its shared lifetime
// is never served.
type Signing struct {
	// Keys sign (the first) and verify (all).
	Keys *bridge.Keyring
	// AcceptUnsigned is the migration mode: values are written unsigned,
	// so that instances that do not sign yet can read them (they cannot
	// read a signed one), and read signed or not. Signing protects the
	// shared tier only once every instance requires it.
	AcceptUnsigned bool
}

// A signed value is the envelope of envelope.go behind a header:
//
//	s1.<key id>.<expiry>.<MAC>.<envelope>
//
// expiry is when the shared copy ends, in Unix milliseconds of the
// writer's clock: its shared lifetime from the commit. The MAC is
// HMAC-SHA256, in unpadded base64url, of the netstrings (bridge.MACInput)
// "slotcache/fill/v1", the data key (namespace and slot included), the
// decimal expiry and the envelope. The tag 's' is unknown to instances
// that do not sign, which take it for an undecodable value and load
// locally, never for a value.
const (
	sealPrefix = "s1."
	fillDomain = "slotcache/fill/v1"
)

// Why a shared copy did not verify; each makes the miss load locally.
var (
	errUnsigned = errors.New("shared copy is not signed")
	errForged   = errors.New("shared copy's signature does not verify")
	errExpired  = errors.New("shared copy is past its signed expiry")
)

// seal returns the stored form of envelope for dataKey, expiring at
// expires (Unix ms).
func seal(keys *bridge.Keyring, dataKey string, expires int64, envelope []byte) []byte {
	exp := strconv.FormatInt(expires, 10)
	var buf [32]byte
	id, mac := keys.Sign(buf[:0], fillDomain, dataKey, exp, string(envelope))
	out := make([]byte, 0, len(sealPrefix)+len(id)+len(exp)+46+len(envelope))
	out = append(out, sealPrefix...)
	out = append(out, id...)
	out = append(out, '.')
	out = append(out, exp...)
	out = append(out, '.')
	out = base64.RawURLEncoding.AppendEncode(out, mac)
	out = append(out, '.')
	return append(out, envelope...)
}

// unseal returns the envelope of data read from dataKey and its remaining
// signed life at now (Unix ms), or why it does not verify.
func unseal(keys *bridge.Keyring, dataKey, data string, now int64) (envelope string, left time.Duration, err error) {
	rest, ok := strings.CutPrefix(data, sealPrefix)
	if !ok {
		return "", 0, errUnsigned
	}
	id, rest, ok1 := strings.Cut(rest, ".")
	exp, rest, ok2 := strings.Cut(rest, ".")
	text, envelope, ok3 := strings.Cut(rest, ".")
	mac, ok4 := bridge.ParseMAC(text)
	expires, err := strconv.ParseInt(exp, 10, 64)
	if !ok1 || !ok2 || !ok3 || !ok4 || err != nil {
		return "", 0, errForged
	}
	if keys.Verify(id, mac[:], fillDomain, dataKey, exp, envelope) != nil {
		return "", 0, errForged
	}
	if expires <= now {
		return "", 0, errExpired
	}
	return envelope, time.Duration(expires-now) * time.Millisecond, nil
}

// writeSigned reports whether the coordinator signs what it commits.
func (c *Coordinator) writeSigned() bool {
	s := c.cfg.Signing
	return s != nil && !s.AcceptUnsigned
}

// stored returns the stored form of envelope committed to dataKey for
// ttl: signed, unless the coordinator writes unsigned values.
func (c *Coordinator) stored(dataKey string, envelope []byte, ttl time.Duration) []byte {
	if !c.writeSigned() {
		return envelope
	}
	return seal(c.cfg.Signing.Keys, dataKey, time.Now().UnixMilli()+ttl.Milliseconds(), envelope)
}

// value returns the value of a shared copy found at dataKey, and how long
// it may be kept: the copy's remaining life in Redis, cut to its signed
// expiry. With signing, a copy that does not verify is an error wrapping
// errUnsigned, errForged or errExpired (see unverified); an unsigned copy
// passes in migration mode.
func (c *Coordinator) value(slotID, dataKey string, f found) (any, time.Duration, error) {
	data, ttl := f.data, f.ttl
	if s := c.cfg.Signing; s != nil {
		envelope, left, err := unseal(s.Keys, dataKey, data, time.Now().UnixMilli())
		switch {
		case err == nil:
			data = envelope
			if ttl <= 0 || left < ttl {
				ttl = left
			}
		case errors.Is(err, errUnsigned) && s.AcceptUnsigned:
		default:
			return nil, 0, err
		}
	}
	v, err := decode(c.cfg.Codec, slotID, data)
	return v, ttl, err
}

// unverified reports whether err is a shared copy refused by signing.
func unverified(err error) bool {
	return errors.Is(err, errUnsigned) || errors.Is(err, errForged) || errors.Is(err, errExpired)
}
