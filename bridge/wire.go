package bridge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// All is the slot ID that means "every slot", as in the seed module.
const All = "*"

// message is the seed's wire format: {"slotId":"<id>","_origin":"<id>"}.
type message struct {
	SlotID string `json:"slotId"`
	Origin string `json:"_origin"`
}

// Encode returns the wire form of an invalidation of slotID by origin: the
// bytes of the seed's JSON.stringify({ slotId, _origin }), which leaves <, >
// and & unescaped (Go's default encoder would escape them).
func Encode(slotID, origin string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(message{SlotID: slotID, Origin: origin}) // strings always encode
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// ErrMalformed is wrapped by every Decode error.
var ErrMalformed = errors.New("malformed invalidation message")

// Decode parses a channel message strictly: it must be one JSON object of at
// most maxBytes with a non-empty string slotId and, if present, a string
// _origin. A missing _origin decodes as "" (a foreign origin). Unknown
// fields are allowed so that other implementations can add their own. Keys
// match case-sensitively, as the seed's parsed.slotId does (encoding/json
// alone would take "SlotID" for "slotId").
func Decode(payload string, maxBytes int) (slotID, origin string, err error) {
	if len(payload) > maxBytes {
		return "", "", fmt.Errorf("%w: %d bytes, limit %d", ErrMalformed, len(payload), maxBytes)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(payload), &fields); err != nil {
		return "", "", fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	var slot, orig *string
	if raw, ok := fields["slotId"]; ok {
		if err := json.Unmarshal(raw, &slot); err != nil {
			return "", "", fmt.Errorf("%w: slotId: %w", ErrMalformed, err)
		}
	}
	if slot == nil || *slot == "" {
		return "", "", fmt.Errorf("%w: no slotId", ErrMalformed)
	}
	if raw, ok := fields["_origin"]; ok {
		if err := json.Unmarshal(raw, &orig); err != nil {
			return "", "", fmt.Errorf("%w: _origin: %w", ErrMalformed, err)
		}
	}
	if orig != nil {
		origin = *orig
	}
	return *slot, origin, nil
}
