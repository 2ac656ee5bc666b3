package slotcache

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/internal/redistest"
)

// deEnv sets SLOTCACHE_INVALIDATION_DAMPING to value for t, with a Redis
// URL that configure checks but never dials: without Redis nothing is
// damped, so nothing would be checked against WithMaxStaleness.
func deEnv(t *testing.T, value string) {
	t.Setenv("REDIS_URL", "redis://127.0.0.1:1/0")
	t.Setenv("REDIS_CLUSTER_URL", "")
	t.Setenv("SLOTCACHE_INVALIDATION_DAMPING", value)
}

// FromEnv reads SLOTCACHE_INVALIDATION_DAMPING as WithInvalidationDamping
// would take it: a duration, "0" or "off" for none, unset for the default.
// A value WithInvalidationDamping would refuse fails New with an
// OptionError of FromEnv that names the variable.
func TestFromEnvInvalidationDamping(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		opts        []Option // after FromEnv
		bound       time.Duration
		err         string
	}{
		{name: "unset", bound: DefaultInvalidationDamping},
		{name: "duration", value: "250ms", bound: 250 * time.Millisecond},
		{name: "zero", value: "0", bound: 0},
		{name: "zero with a unit", value: "0s", bound: 0},
		{name: "off", value: "off", bound: 0},
		{name: "OFF", value: "OFF", bound: 0},
		{name: "spaces", value: " 2s ", bound: 2 * time.Second},
		{name: "no staleness bound", value: "1m", opts: []Option{WithMaxStaleness(0)}, bound: time.Minute},
		{name: "no unit", value: "500", err: `SLOTCACHE_INVALIDATION_DAMPING must be a duration such as 500ms, or 0 or off, got "500"`},
		{name: "not a duration", value: "fast", err: `SLOTCACHE_INVALIDATION_DAMPING must be a duration such as 500ms, or 0 or off, got "fast"`},
		{name: "negative", value: "-1s", err: `SLOTCACHE_INVALIDATION_DAMPING must not be negative, got -1s`},
		{name: "not below the staleness bound", value: "3s", err: "SLOTCACHE_INVALIDATION_DAMPING: 3s must be below WithMaxStaleness(3s)"},
		{name: "not below a later staleness bound", value: "1s", opts: []Option{WithHeartbeat(100 * time.Millisecond), WithMaxStaleness(time.Second)},
			err: "SLOTCACHE_INVALIDATION_DAMPING: 1s must be below WithMaxStaleness(1s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			deEnv(t, tc.value)
			cfg, err := configure(defaultConfig(), append([]Option{FromEnv()}, tc.opts...))
			if tc.err != "" {
				var oe *OptionError
				require.ErrorAs(t, err, &oe)
				assert.Equal(t, "FromEnv", oe.Option)
				assert.Equal(t, tc.err, oe.Reason)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.bound, cfg.dampingBound())
		})
	}
}

// Options apply in order, FromEnv included: a WithInvalidationDamping
// after FromEnv wins over the variable (and is what WithMaxStaleness
// checks), one before it gives way to the variable.
func TestFromEnvInvalidationDampingOrder(t *testing.T) {
	deEnv(t, "200ms")
	cfg, err := configure(defaultConfig(), []Option{FromEnv(), WithInvalidationDamping(0)})
	require.NoError(t, err)
	assert.Equal(t, time.Duration(0), cfg.dampingBound(), "the explicit option after FromEnv")

	cfg, err = configure(defaultConfig(), []Option{WithInvalidationDamping(0), FromEnv()})
	require.NoError(t, err)
	assert.Equal(t, 200*time.Millisecond, cfg.dampingBound(), "the variable, FromEnv coming last")

	// A bound too long for the staleness bound is blamed on whoever set
	// it last.
	_, err = configure(defaultConfig(), []Option{FromEnv(), WithInvalidationDamping(time.Minute)})
	var oe *OptionError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "WithInvalidationDamping", oe.Option)

	deEnv(t, "1m")
	_, err = configure(defaultConfig(), []Option{FromEnv(), WithInvalidationDamping(100 * time.Millisecond)})
	require.NoError(t, err, "the variable's bound, overridden, is not checked")
}

// An engine configured from the environment damps as the variable says:
// with "off" a burst of "*" is applied message by message, with "1s" the
// repeats are held, and with "off" overridden by WithInvalidationDamping
// after FromEnv they are held again.
func TestFromEnvInvalidationDampingEndToEnd(t *testing.T) {
	srv := redistest.Start(t)
	pub := srv.Client(t)
	t.Setenv("REDIS_CLUSTER_URL", "")
	t.Setenv("REDIS_URL", srv.URL())
	for _, tc := range []struct {
		name, value string
		opts        []Option
		damped      bool
	}{
		{name: "off", value: "off"},
		{name: "on", value: "1s", damped: true},
		{name: "off, then the option", value: "off", opts: []Option{WithInvalidationDamping(time.Second)}, damped: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SLOTCACHE_INVALIDATION_DAMPING", tc.value)
			e, err := New(append([]Option{FromEnv(), WithChannel(rtChannel(t))}, tc.opts...)...)
			require.NoError(t, err)
			t.Cleanup(func() { _ = e.Close() })
			rtReady(t, e)
			const burst = 200
			p := pub.Pipeline()
			for range burst {
				p.Publish(context.Background(), e.Channel(), `{"slotId":"*","_origin":"storm"}`)
			}
			_, err = p.Exec(context.Background())
			require.NoError(t, err)
			require.Eventually(t, func() bool { return e.Stats().CrossProcessInvalidations == burst }, rtWait, rtPoll,
				"every invalidation applied")
			st := e.Stats()
			if tc.damped {
				require.NotZero(t, st.DampedInvalidations, "nothing held")
				require.NotZero(t, st.DampFlushes)
			} else {
				require.Zero(t, st.DampedInvalidations, "damping is on")
				require.Zero(t, st.DampFlushes)
			}
		})
	}
}
