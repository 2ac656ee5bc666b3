package slotcache

import (
	"strconv"
	"strings"
	"time"
)

// dampingEnvVar is the variable FromEnv reads WithInvalidationDamping's
// bound from.
const dampingEnvVar = "SLOTCACHE_INVALIDATION_DAMPING"

// dampingFromEnv configures WithInvalidationDamping from
// SLOTCACHE_INVALIDATION_DAMPING: a Go duration ("500ms", "2s"), or "0" or
// "off" to apply every invalidation at once, so that an operator facing an
// invalidation storm, or a flush delay it cannot afford, tunes damping by
// changing the deployment's environment, not its code. Unset leaves the
// bound as it is. A bound not below WithMaxStaleness fails New in
// checkDamping, which names the variable.
func (c *config) dampingFromEnv(getenv func(string) string) error {
	raw := getenv(dampingEnvVar)
	if raw == "" {
		return nil
	}
	d, err := parseDampingEnv(strings.TrimSpace(raw))
	if err != nil {
		return &OptionError{Option: "FromEnv", Reason: dampingEnvVar + " must be a duration such as 500ms, or 0 or off, got " + strconv.Quote(raw), Err: err}
	}
	if d < 0 {
		return optionError("FromEnv", "%s must not be negative, got %v", dampingEnvVar, d)
	}
	c.damping, c.dampingEnv = d, true
	return nil
}

// parseDampingEnv reads a bound: "off" (any case) is zero, anything else
// a time.ParseDuration duration, which takes "0" without a unit but no
// other bare number, whose unit a reader would have to guess.
func parseDampingEnv(s string) (time.Duration, error) {
	if strings.EqualFold(s, "off") {
		return 0, nil
	}
	return time.ParseDuration(s)
}
