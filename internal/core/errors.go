package core

import "errors"

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
