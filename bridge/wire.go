package bridge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// All is the slot ID that means "every slot", as in the seed module.
const All = "*"

// message is the seed's wire format: {"slotId":"<id>","_origin":"<id>"},
// with a confirm field when the writer asks for answers (confirm.go), and
// _ts and _sig when the writer signs (signmsg.go).
type message struct {
	SlotID  string `json:"slotId"`
	Origin  string `json:"_origin"`
	Confirm string `json:"confirm,omitempty"`
	TS      int64  `json:"_ts,omitempty"`
	Sig     string `json:"_sig,omitempty"`
}

// filledMessage is a fill notice: {"filled":"<id>","_origin":"<id>"}. It has
// no slotId on purpose: the seed's Node module deletes parsed.slotId for any
// message with a string slotId and ignores the rest, so a notice never
// invalidates anything there.
type filledMessage struct {
	Filled string `json:"filled"`
	Origin string `json:"_origin"`
	TS     int64  `json:"_ts,omitempty"`
	Sig    string `json:"_sig,omitempty"`
}

// Encode returns the wire form of an invalidation of slotID by origin: the
// bytes of the seed's JSON.stringify({ slotId, _origin }), which leaves <, >
// and & unescaped (Go's default encoder would escape them).
func Encode(slotID, origin string) []byte {
	return encodeJSON(message{SlotID: slotID, Origin: origin})
}

// EncodeFilled returns the wire form of a fill notice: origin committed
// slotID to the shared tier (or gave up its fill), so that the other
// instances' followers look again now instead of at their next poll.
func EncodeFilled(slotID, origin string) []byte {
	return encodeJSON(filledMessage{Filled: slotID, Origin: origin})
}

// encodeJSON is JSON.stringify for the structs of this package: no HTML
// escaping, no trailing newline.
func encodeJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // strings always encode
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// ErrMalformed is wrapped by every Decode error.
var ErrMalformed = errors.New("malformed invalidation message")

// Notice is one decoded channel message: an invalidation of SlotID, or,
// when SlotID is empty, a fill notice for Filled.
type Notice struct {
	SlotID string
	Filled string
	Origin string
	// Confirm, when set, asks the receivers to answer once applied (see
	// Sub.PublishConfirmed).
	Confirm string
	sig     sigFields // checked only by a Sub that signs (signmsg.go)
}

// Decode parses an invalidation: a channel message that DecodeNotice
// accepts and that has a slotId. A fill notice is malformed here.
func Decode(payload string, maxBytes int) (slotID, origin string, err error) {
	n, err := DecodeNotice(payload, maxBytes)
	if err == nil && n.SlotID == "" {
		err = fmt.Errorf("%w: no slotId", ErrMalformed)
	}
	if err != nil {
		return "", "", err
	}
	return n.SlotID, n.Origin, nil
}

// DecodeNotice parses a channel message strictly: it must be one JSON
// object of at most maxBytes with a non-empty string slotId (an
// invalidation) or, failing that, a non-empty string filled (a fill notice),
// and, if present, a string or null _origin. A message with both is an
// invalidation, as the seed's module would take it. A missing or null
// _origin decodes as "" (a foreign origin): the seed's module compares
// parsed._origin with its own ID and applies anything else, null included.
// An invalidation may carry a string confirm (see Sub.PublishConfirmed).
// The signature fields _ts and _sig are read but never make a message
// malformed: only a Sub that signs checks them (signmsg.go). Unknown
// fields are allowed so that other implementations can add their own. Keys match case-sensitively, as
// the seed's parsed.slotId does (encoding/json alone would take "SlotID"
// for "slotId").
func DecodeNotice(payload string, maxBytes int) (Notice, error) {
	if len(payload) > maxBytes {
		return Notice{}, fmt.Errorf("%w: %d bytes, limit %d", ErrMalformed, len(payload), maxBytes)
	}
	if f, ok := decodeFlat(payload); ok {
		return f.notice()
	}
	return decodeGeneric(payload)
}

// notice is DecodeNotice's reading of a flat message.
func (f flatNotice) notice() (Notice, error) {
	n := Notice{SlotID: f.slotID, Origin: f.origin}
	if n.SlotID == "" {
		if n.Filled = f.filled; n.Filled == "" {
			return Notice{}, fmt.Errorf("%w: no slotId or filled", ErrMalformed)
		}
	} else {
		n.Confirm = f.confirm
	}
	if f.hasSig {
		n.sig = sigFields{sig: f.sig, ts: f.ts}
	}
	return n, nil
}

// decodeGeneric is DecodeNotice through encoding/json, for any message.
func decodeGeneric(payload string) (Notice, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(payload), &fields); err != nil {
		return Notice{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	field := func(name string) (string, error) {
		var v *string
		if raw, ok := fields[name]; ok {
			if err := json.Unmarshal(raw, &v); err != nil {
				return "", fmt.Errorf("%w: %s: %w", ErrMalformed, name, err)
			}
		}
		if v == nil {
			return "", nil
		}
		return *v, nil
	}
	var n Notice
	var err error
	if n.SlotID, err = field("slotId"); err != nil {
		return Notice{}, err
	}
	if n.SlotID == "" {
		if n.Filled, err = field("filled"); err != nil {
			return Notice{}, err
		}
		if n.Filled == "" {
			return Notice{}, fmt.Errorf("%w: no slotId or filled", ErrMalformed)
		}
	}
	if n.Origin, err = field("_origin"); err != nil {
		return Notice{}, err
	}
	if n.SlotID != "" {
		if n.Confirm, err = field("confirm"); err != nil {
			return Notice{}, err
		}
	}
	n.sig = signature(fields)
	return n, nil
}

// signature reads the signature fields of a message, leniently: they are
// unknown fields to an instance that does not sign, which must not refuse
// a message for them, and a signing one refuses a malformed signature as
// forged rather than malformed.
func signature(fields map[string]json.RawMessage) sigFields {
	var f sigFields
	raw, ok := fields["_sig"]
	if !ok {
		return f
	}
	var sig *string
	if json.Unmarshal(raw, &sig) != nil {
		f.bad = true
		return f
	}
	if sig != nil {
		f.sig = *sig
	}
	if raw, ok := fields["_ts"]; ok && json.Unmarshal(raw, &f.ts) != nil {
		f.bad = f.sig != ""
	}
	return f
}
