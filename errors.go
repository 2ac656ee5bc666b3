package slotcache

import "github.com/slotcache/slotcache/internal/core"

// Errors returned by the engine; match them with errors.Is.
var (
	// ErrClosed is returned by every call after Close.
	ErrClosed = core.ErrClosed
	// ErrLoaderPanic is returned to every waiter of a load whose loader
	// panicked; the panic value is in the message.
	ErrLoaderPanic = core.ErrLoaderPanic
	// ErrLoadTimeout is returned to every waiter of a load that ran past
	// the load timeout (see WithLoadTimeout).
	ErrLoadTimeout = core.ErrLoadTimeout
)
