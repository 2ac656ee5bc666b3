package slotcache

import "fmt"

// OptionError is the error of one invalid option: which option, and why.
// New and NewCache join one per invalid option, so that a caller sees
// every mistake at once and can still find each with errors.As (which
// walks joined errors) instead of matching text.
type OptionError struct {
	// Option is the option's name, e.g. "WithTTL" or "WithFill".
	Option string
	// Reason says what is wrong with its argument.
	Reason string
	// Err is the underlying error, if any (errors.Unwrap returns it).
	Err error
}

func (e *OptionError) Error() string { return "slotcache: " + e.Option + ": " + e.Reason }

// Unwrap returns the underlying error, if any.
func (e *OptionError) Unwrap() error { return e.Err }

// optionError returns the OptionError of option, with a formatted reason.
func optionError(option, format string, args ...any) error {
	return &OptionError{Option: option, Reason: fmt.Sprintf(format, args...)}
}
