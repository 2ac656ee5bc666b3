package slotcache

import "github.com/slotcache/slotcache/internal/core"

// Errors returned by the engine; match them with errors.Is.
var (
	// ErrClosed is returned by every call after Close.
	ErrClosed = core.ErrClosed
	// ErrLoaderPanic is returned to every waiter of a load whose loader
	// panicked; the error is a *PanicError with the value and the stack.
	ErrLoaderPanic = core.ErrLoaderPanic
	// ErrLoadTimeout is returned to every waiter of a load that ran past
	// the load timeout (see WithLoadTimeout).
	ErrLoadTimeout = core.ErrLoadTimeout
)

// PanicError is the error every waiter of a load gets when its loader
// panicked: the panic's value and the stack of the loader's goroutine at
// the panic, so that the bug can be found from a log line of any caller.
// errors.Is(err, ErrLoaderPanic) holds for it; errors.As gets the details.
type PanicError = core.PanicError
