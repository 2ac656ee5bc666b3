package slotcache

import (
	"encoding/base64"
	"strconv"
	"strings"
)

// signingFromEnv configures signing from SLOTCACHE_SIGNING_KEYS (keys in
// base64, comma-separated, the first signing) and
// SLOTCACHE_SIGNING_ACCEPT_UNSIGNED (the migration mode), so that keys
// come from a secret store the way REDIS_PASSWORD does, and a fleet is
// moved to signed messages by changing its environment, not its code.
// Errors name the variable, never a key.
func (c *config) signingFromEnv(getenv func(string) string) error {
	raw, accept := getenv("SLOTCACHE_SIGNING_KEYS"), getenv("SLOTCACHE_SIGNING_ACCEPT_UNSIGNED")
	if raw == "" {
		if accept != "" {
			return optionError("FromEnv", "SLOTCACHE_SIGNING_ACCEPT_UNSIGNED is set without SLOTCACHE_SIGNING_KEYS")
		}
		return nil
	}
	var s Signing
	for i, field := range strings.Split(raw, ",") {
		key, err := decodeKey(strings.TrimSpace(field))
		if err != nil {
			return &OptionError{Option: "FromEnv", Reason: "SLOTCACHE_SIGNING_KEYS: key " + strconv.Itoa(i+1) + " is not base64", Err: err}
		}
		s.Keys = append(s.Keys, key)
	}
	if accept != "" {
		on, err := strconv.ParseBool(accept)
		if err != nil {
			return &OptionError{Option: "FromEnv", Reason: "SLOTCACHE_SIGNING_ACCEPT_UNSIGNED must be true or false, got " + strconv.Quote(accept), Err: err}
		}
		s.AcceptUnsigned = on
	}
	sg, err := newSigning("FromEnv", s)
	if err != nil {
		return err
	}
	c.signing = sg
	return nil
}

// decodeKey reads a key in standard or URL-safe base64, padded or not, as
// `openssl rand -base64 32` and most secret stores write them.
func decodeKey(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}
