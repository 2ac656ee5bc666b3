package core

import (
	"errors"
	"fmt"
)

// Errors the actors return to callers; the root package re-exports them so
// callers can match them with errors.Is.
var (
	// ErrLoaderPanic wraps the value of a loader that panicked.
	ErrLoaderPanic = errors.New("slotcache: loader panicked")
	// ErrLoadTimeout is returned to the waiters of a load that ran past the
	// engine's load timeout.
	ErrLoadTimeout = errors.New("slotcache: load timed out")
	// ErrClosed is returned by every operation after Close.
	ErrClosed = errors.New("slotcache: engine closed")
)

// PanicError is the error of a load whose loader panicked: the panic's
// value and the loader goroutine's stack at the panic, which is where the
// bug is (the slot's own stack says nothing about it). It matches
// ErrLoaderPanic with errors.Is.
type PanicError struct {
	Slot  string
	Value any
	Stack []byte
}

// Error implements error. Like singleflight's panic error it includes the
// stack, so that the bug can be found from whatever logs the error.
func (e *PanicError) Error() string {
	return fmt.Sprintf("%v: slot %q: %v\n\n%s", ErrLoaderPanic, e.Slot, e.Value, e.Stack)
}

// Is makes errors.Is(err, ErrLoaderPanic) hold.
func (e *PanicError) Is(target error) bool { return target == ErrLoaderPanic }
