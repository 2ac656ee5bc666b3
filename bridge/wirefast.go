package bridge

import (
	"strconv"
	"unicode/utf8"
)

// flatNotice is what decodeFlat read from a message: the known fields, ""
// when absent or null.
type flatNotice struct {
	slotID, filled, origin, confirm, sig string
	hasSig                               bool
	ts                                   int64
}

// decodeFlat reads the messages that instances actually send, a flat JSON
// object as JSON.stringify writes it (no spaces, strings without escapes,
// integers, null), without encoding/json: DecodeNotice's generic decode
// costs 3-5 µs and 22 allocations a message, most of what a receiver
// spends on a remote invalidation, and all of what a flood of them costs
// it. Anything else (spaces, escapes, other value types, a known field of
// an unexpected type, bytes that are not UTF-8) reports !ok and is left to
// the generic decode, which alone decides what is malformed; so the two
// agree on every message (TestDecodeFlatAgrees).
func decodeFlat(p string) (f flatNotice, ok bool) {
	if len(p) < 2 || p[0] != '{' || p[len(p)-1] != '}' {
		return f, false
	}
	var tsRaw string
	hasTS := false
	i := 1
	if p[i] == '}' {
		return f, i == len(p)-1
	}
	for {
		key, next, ok := flatString(p, i)
		if !ok || next >= len(p) || p[next] != ':' {
			return f, false
		}
		i = next + 1
		var val string
		var kind byte // 's' string, 'n' null, 'i' integer
		switch {
		case i < len(p) && p[i] == '"':
			if val, next, ok = flatString(p, i); !ok {
				return f, false
			}
			kind = 's'
		case len(p)-i >= 4 && p[i:i+4] == "null":
			next, kind = i+4, 'n'
		default:
			if next = flatInt(p, i); next == i {
				return f, false
			}
			val, kind = p[i:next], 'i'
		}
		i = next
		switch key {
		case "slotId", "filled", "_origin", "confirm", "_sig":
			if kind == 'i' {
				return f, false
			}
			switch key {
			case "slotId":
				f.slotID = val
			case "filled":
				f.filled = val
			case "_origin":
				f.origin = val
			case "confirm":
				f.confirm = val
			case "_sig":
				f.sig, f.hasSig = val, true
			}
		case "_ts":
			if kind == 's' {
				return f, false
			}
			tsRaw, hasTS = val, kind == 'i'
		}
		if i >= len(p) {
			return f, false
		}
		switch p[i] {
		case ',':
			i++
		case '}':
			if i != len(p)-1 {
				return f, false
			}
			if f.hasSig && hasTS {
				ts, err := strconv.ParseInt(tsRaw, 10, 64)
				if err != nil {
					return f, false
				}
				f.ts = ts
			}
			return f, true
		default:
			return f, false
		}
	}
}

// flatString reads the string that starts at p[i] ('"'), if it has no
// escape, no control character and is valid UTF-8, and returns it and the
// index after its closing quote.
func flatString(p string, i int) (s string, next int, ok bool) {
	if i >= len(p) || p[i] != '"' {
		return "", i, false
	}
	ascii := true
	for j := i + 1; j < len(p); j++ {
		switch c := p[j]; {
		case c == '"':
			s = p[i+1 : j]
			if !ascii && !utf8.ValidString(s) {
				return "", i, false
			}
			return s, j + 1, true
		case c == '\\' || c < 0x20:
			return "", i, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", i, false
}

// flatInt returns the index after the JSON integer at p[i] (an optional
// minus, then 0 or a digit 1-9 followed by digits), or i if there is none.
// A fraction or an exponent stops it short, and decodeFlat then gives up.
func flatInt(p string, i int) int {
	j := i
	if j < len(p) && p[j] == '-' {
		j++
	}
	switch {
	case j < len(p) && p[j] == '0':
		j++
	case j < len(p) && p[j] >= '1' && p[j] <= '9':
		for j++; j < len(p) && p[j] >= '0' && p[j] <= '9'; j++ {
		}
	default:
		return i
	}
	return j
}
