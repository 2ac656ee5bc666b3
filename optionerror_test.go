package slotcache

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// optionNames returns the Option of every OptionError in err's tree.
func optionNames(err error) []string {
	var names []string
	var walk func(error)
	walk = func(err error) {
		if oe, ok := err.(*OptionError); ok {
			names = append(names, oe.Option)
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			if e := u.Unwrap(); e != nil {
				walk(e)
			}
		}
	}
	walk(err)
	return names
}

// Every invalid option is an *OptionError naming it, all of them joined,
// so a caller finds each with errors.As instead of matching text.
func TestOptionErrorsNameTheOption(t *testing.T) {
	_, err := New(
		WithTTL(0),
		WithChannel(""),
		WithMaxSlots(-1),
		WithBehaviour(NegativeTTL(0)),
		WithFill(FillPolicy{PollMin: -time.Millisecond}),
	)
	require.Error(t, err)
	var oe *OptionError
	require.True(t, errors.As(err, &oe))
	assert.Equal(t, "WithTTL", oe.Option, "errors.As finds the first")
	assert.Equal(t, "must be positive, got 0s", oe.Reason)
	assert.ElementsMatch(t,
		[]string{"WithTTL", "WithChannel", "WithMaxSlots", "WithBehaviour", "WithFill"},
		optionNames(err), "every bad option, once")

	_, err = New(WithLoadTimeout(time.Second))
	assert.NoError(t, err)
}

// The Redis options are options too: WithSentinel's and FromEnv's errors
// name them, keeping the parse error underneath.
func TestRedisOptionErrorsNameTheOption(t *testing.T) {
	var oe *OptionError
	_, err := New(WithSentinel(nil))
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "WithSentinel", oe.Option)

	t.Setenv("REDIS_URL", "redis://a:1")
	t.Setenv("REDIS_CLUSTER_URL", "redis://b:1")
	_, err = New(FromEnv())
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "FromEnv", oe.Option)

	t.Setenv("REDIS_CLUSTER_URL", "")
	t.Setenv("REDIS_URL", "mysql://nope")
	_, err = New(FromEnv())
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "FromEnv", oe.Option)
	assert.Contains(t, oe.Reason, "REDIS_URL")
	assert.NotNil(t, errors.Unwrap(oe), "the parse error is kept")
}
