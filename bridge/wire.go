package bridge

import (
	"encoding/json"
	"errors"
	"fmt"
)

// All is the slot ID that means "every slot", as in the seed module.
const All = "*"

// message is the seed's wire format: {"slotId":"<id>","_origin":"<id>"}.
// Pointers tell a missing field from an empty one.
type message struct {
	SlotID *string `json:"slotId"`
	Origin *string `json:"_origin,omitempty"`
}

// Encode returns the wire form of an invalidation of slotID by origin.
func Encode(slotID, origin string) []byte {
	b, _ := json.Marshal(message{SlotID: &slotID, Origin: &origin}) // strings always marshal
	return b
}

// ErrMalformed is wrapped by every Decode error.
var ErrMalformed = errors.New("malformed invalidation message")

// Decode parses a channel message strictly: it must be one JSON object of at
// most maxBytes with a non-empty string slotId and, if present, a string
// _origin. A missing _origin decodes as "" (a foreign origin). Unknown
// fields are allowed so that other implementations can add their own.
func Decode(payload string, maxBytes int) (slotID, origin string, err error) {
	if len(payload) > maxBytes {
		return "", "", fmt.Errorf("%w: %d bytes, limit %d", ErrMalformed, len(payload), maxBytes)
	}
	var m message
	if err := json.Unmarshal([]byte(payload), &m); err != nil {
		return "", "", fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if m.SlotID == nil || *m.SlotID == "" {
		return "", "", fmt.Errorf("%w: no slotId", ErrMalformed)
	}
	if m.Origin != nil {
		origin = *m.Origin
	}
	return *m.SlotID, origin, nil
}
