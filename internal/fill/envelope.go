package fill

import (
	"errors"
	"fmt"
)

// A shared value is stored as one tag byte and a body:
//
//	'n'            nil, the "slot deleted" marker the engine caches like any value
//	'b' + bytes    a []byte, passed through untouched whatever the codec
//	'c' + bytes    anything else, as the codec encoded it
//
// The tag keeps nil distinct from an encoded null or an empty byte slice,
// and keeps byte slices out of codecs that would inflate them (JSON turns
// them into base64 strings and decodes them back as strings).
const (
	tagNil   = 'n'
	tagBytes = 'b'
	tagCodec = 'c'
)

// encode returns the stored form of v.
func encode(codec Codec, slotID string, v any) (out []byte, err error) {
	switch b := v.(type) {
	case nil:
		return []byte{tagNil}, nil
	case []byte:
		return append([]byte{tagBytes}, b...), nil
	}
	defer func() {
		if r := recover(); r != nil { // a codec bug must not lose the value
			out, err = nil, fmt.Errorf("codec panicked: %v", r)
		}
	}()
	body, err := codec.Marshal(slotID, v)
	if err != nil {
		return nil, err
	}
	return append([]byte{tagCodec}, body...), nil
}

var errEnvelope = errors.New("not a slotcache fill envelope")

// decode returns the value stored as data.
func decode(codec Codec, slotID string, data string) (v any, err error) {
	if data == "" {
		return nil, errEnvelope
	}
	switch body := data[1:]; data[0] {
	case tagNil:
		if body != "" {
			return nil, errEnvelope
		}
		return nil, nil
	case tagBytes:
		return []byte(body), nil
	case tagCodec:
		defer func() {
			if r := recover(); r != nil {
				v, err = nil, fmt.Errorf("codec panicked: %v", r)
			}
		}()
		return codec.Unmarshal(slotID, []byte(body))
	default:
		return nil, errEnvelope
	}
}
