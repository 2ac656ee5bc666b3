package bridge

import (
	"crypto/rand"
	"encoding/base64"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Signed messages. Every message a signing Sub sends carries two more JSON
// fields, which the seed's Node module and unsigned instances ignore:
//
//	"_ts":  the sender's clock, in Unix milliseconds (a JSON integer)
//	"_sig": "v1.<key id>.<nonce>.<MAC>"
//
// The MAC is HMAC-SHA256, in unpadded base64url, under the key named by
// the key ID (KeyID), of the concatenation of these netstrings
// (MACInput), in this order:
//
//	"slotcache/msg/v1", the channel it is published on, the kind, the
//	decimal _ts, the nonce, then the kind's fields:
//	  "invalidate": slotId, _origin, confirm ("" when absent)
//	  "filled":     filled, _origin
//	  "ack":        ack, _origin
//
// The channel binds a message to its cache, so that it cannot be moved to
// another cache's channel (an answer's channel is the writer's ack
// channel); the kind keeps a fill notice from being replayed as an
// invalidation; the nonce, random per message, makes two messages with the
// same content in the same millisecond distinct, so that the replay check
// below never drops a genuine second invalidation. The MAC covers the
// decoded field values, not the JSON text, so that escaping, key order and
// whitespace do not matter.
//
// A receiver that requires signatures ignores and counts, by reason, a
// message without a non-empty string _sig (unsigned), one whose _sig or
// _ts is not well formed, names a key it does not hold or does not match
// (forged), one dated more than MaxAge before or after its own clock
// (stale), and one it has already accepted (replayed).

// DefaultMaxAge is Signing.MaxAge when left zero.
const DefaultMaxAge = 30 * time.Second

// maxReplays bounds the signatures a Sub remembers for the replay check:
// 64 Ki of them, about 5 MB, covers 2 000 signed messages per second with
// the default MaxAge. Past it, a replay within MaxAge is no longer caught
// (an extra invalidation: a load, never a stale value).
const maxReplays = 1 << 16

// Signing makes a channel's messages authenticated: the Sub signs what it
// sends and verifies what it receives (Config.Signing, Attach).
type Signing struct {
	// Keys sign (the first) and verify (all); nil signs nothing.
	Keys *Keyring
	// AcceptUnsigned is the migration mode: messages are signed, but
	// unsigned ones are still applied (and counted), so that instances
	// that do not sign yet, or the seed's Node module, still reach this one.
	// A message with a bad signature is refused all the same.
	AcceptUnsigned bool
	// MaxAge is how far a message's timestamp may be from this instance's
	// clock, either way (DefaultMaxAge when zero): older messages are
	// refused as replays, and it bounds the clock skew between instances.
	MaxAge time.Duration
}

// Message kinds, as they enter a MAC.
const (
	kindInvalidate = "invalidate"
	kindFilled     = "filled"
	kindAck        = "ack"
)

// sigVersion starts every _sig; msgDomain every message MAC's input.
const (
	sigVersion = "v1"
	msgDomain  = "slotcache/msg/v1"
)

// verdict is what a signing Sub makes of a received message.
type verdict uint8

const (
	verdictSigned   verdict = iota // signed, verified: apply
	verdictUnsigned                // unsigned, accepted in migration mode: apply
	// The refusals, after the verdicts that apply (see admit).
	refusedUnsigned
	refusedForged
	refusedStale
	refusedReplayed
	numVerdicts
)

var verdictNames = [numVerdicts]string{"signed", "unsigned", "unsigned", "forged", "stale", "replayed"}

// sigFields are the signature fields of a received message: sig is the
// _sig string ("" when absent, null or empty), bad reports a _sig or _ts
// of the wrong type.
type sigFields struct {
	sig string
	ts  int64
	bad bool
}

// signer signs and verifies one Sub's messages.
type signer struct {
	keys           *Keyring
	acceptUnsigned bool
	maxAge         int64        // in ms
	now            func() int64 // Unix ms
	seen           replays      // signatures accepted within maxAge
	warned         [numVerdicts]atomic.Bool
}

func newSigner(s *Signing) *signer {
	if s == nil || s.Keys == nil {
		return nil
	}
	maxAge := s.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	return &signer{
		keys:           s.Keys,
		acceptUnsigned: s.AcceptUnsigned,
		maxAge:         max(maxAge.Milliseconds(), 1),
		now:            func() int64 { return time.Now().UnixMilli() },
	}
}

// stamp returns the _ts and _sig of a message of kind on channel, with
// the kind's fields in order.
func (g *signer) stamp(channel, kind string, fields ...string) (ts int64, sig string) {
	ts = g.now()
	var raw [12]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read never fails
	nonce := base64.RawURLEncoding.EncodeToString(raw[:])
	var buf [32]byte
	id, mac := g.keys.Sign(buf[:0], messageFields(channel, kind, ts, nonce, fields)...)
	return ts, sigVersion + "." + id + "." + nonce + "." + base64.RawURLEncoding.EncodeToString(mac)
}

// check verifies a received message of kind on channel, with the kind's
// fields in order, and records a verified one for the replay check.
func (g *signer) check(channel, kind string, f sigFields, fields ...string) verdict {
	switch {
	case f.bad:
		return refusedForged
	case f.sig == "" && g.acceptUnsigned:
		return verdictUnsigned
	case f.sig == "":
		return refusedUnsigned
	}
	rest, ok := strings.CutPrefix(f.sig, sigVersion+".")
	id, rest, ok1 := strings.Cut(rest, ".")
	nonce, text, ok2 := strings.Cut(rest, ".")
	mac, ok3 := ParseMAC(text)
	if !ok || !ok1 || !ok2 || !ok3 || nonce == "" {
		return refusedForged
	}
	if g.keys.Verify(id, mac[:], messageFields(channel, kind, f.ts, nonce, fields)...) != nil {
		return refusedForged
	}
	now := g.now()
	if f.ts < now-g.maxAge || f.ts > now+g.maxAge {
		return refusedStale
	}
	if g.seen.add(mac, f.ts, now, g.maxAge) {
		return refusedReplayed
	}
	return verdictSigned
}

// messageFields lists the fields a message's MAC covers, in order (see
// the top of this file).
func messageFields(channel, kind string, ts int64, nonce string, fields []string) []string {
	return append([]string{msgDomain, channel, kind, strconv.FormatInt(ts, 10), nonce}, fields...)
}

// stamp returns the signature fields of a message s sends; zero when s
// does not sign.
func (s *Sub) stamp(channel, kind string, fields ...string) (int64, string) {
	if s.sign == nil {
		return 0, ""
	}
	return s.sign.stamp(channel, kind, fields...)
}

// verified reports whether a message received on channel may be applied,
// and counts it (see admit): always when s does not sign; when it does, if
// the signature verifies, or if it is unsigned and s accepts unsigned
// messages.
func (s *Sub) verified(channel, kind string, f sigFields, fields ...string) bool {
	if s.sign == nil {
		return true
	}
	return s.admit(s.sign.check(channel, kind, f, fields...), channel, kind)
}

// verifiedNotice is verified for a decoded channel message.
func (s *Sub) verifiedNotice(n Notice) bool {
	if s.sign == nil {
		return true
	}
	return s.admit(s.verdict(n), s.channel, n.kind())
}

// verdict is what s's signer makes of a decoded channel message.
func (s *Sub) verdict(n Notice) verdict {
	if n.SlotID != "" {
		return s.sign.check(s.channel, kindInvalidate, n.sig, n.SlotID, n.Origin, n.Confirm)
	}
	return s.sign.check(s.channel, kindFilled, n.sig, n.Filled, n.Origin)
}

func (n Notice) kind() string {
	if n.SlotID != "" {
		return kindInvalidate
	}
	return kindFilled
}

// admit counts a message by verdict and reports whether it is applied. It
// warns once per reason, since a refused message is either an attack or a
// fleet whose keys disagree, and the latter loses invalidations.
func (s *Sub) admit(v verdict, channel, kind string) bool {
	s.stats.verdicts[v].Add(1)
	if v <= verdictUnsigned {
		return true
	}
	log := s.b.cfg.Logger.Debug
	if s.sign.warned[v].CompareAndSwap(false, true) {
		log = s.b.cfg.Logger.Warn
	}
	log("slotcache: ignored a message that failed its signature check (counted; warned once per reason)",
		"channel", channel, "kind", kind, "reason", verdictNames[v])
	return false
}

// EncodeFilled returns the wire form of a fill notice of this instance on
// s's channel: EncodeFilled's, signed when s signs.
func (s *Sub) EncodeFilled(slotID string) []byte {
	m := filledMessage{Filled: slotID, Origin: s.b.cfg.Origin}
	m.TS, m.Sig = s.stamp(s.channel, kindFilled, m.Filled, m.Origin)
	return encodeJSON(m)
}

// encodeInvalidation returns the wire form of an invalidation of slotID by
// this instance on s's channel, asking for answers when confirm is set.
func (s *Sub) encodeInvalidation(slotID, confirm string) []byte {
	m := message{SlotID: slotID, Origin: s.b.cfg.Origin, Confirm: confirm}
	m.TS, m.Sig = s.stamp(s.channel, kindInvalidate, m.SlotID, m.Origin, m.Confirm)
	return encodeJSON(m)
}
