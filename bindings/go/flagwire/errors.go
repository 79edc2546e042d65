package flagwire

import (
	"errors"
	"strconv"
)

// Status is a flagwire C ABI status (FlagwireStatus in include/flagwire.h, docs/design.md §2.6).
// The numbers are stable; capi.go checks them against the header at compile time.
type Status int32

const (
	StatusOK            Status = 0  // success: the event was queued
	StatusSkipped       Status = 1  // a valid decision that is not an exposure; not an error
	StatusNullArgument  Status = 2  // a required argument was missing
	StatusInvalidUTF8   Status = 3  // a string was not valid UTF-8
	StatusInvalidJSON   Status = 4  // malformed JSON, or not of the expected shape
	StatusInvalidConfig Status = 5  // the config was refused; the message names the key
	StatusQueueFull     Status = 6  // the queue is full: dropped and counted; the caller never blocks
	StatusTooLarge      Status = 7  // one message over 32,000 bytes: dropped and counted
	StatusClosed        Status = 8  // the client is closed
	StatusTimeout       Status = 9  // the deadline passed; nothing lost, events stay queued
	StatusPanic         Status = 10 // an internal bug was caught at the boundary
	StatusNotFound      Status = 11 // Profile API: no such profile
	StatusUnavailable   Status = 12 // Profile API: error or timeout, nothing cached
	// StatusInvalidArgument: a malformed decision record (lengths that do not add up, an
	// unknown format). ABI 2; a bug in this package if it ever comes back.
	StatusInvalidArgument Status = 13
)

var statusNames = [...]string{
	"OK", "SKIPPED", "NULL_ARGUMENT", "INVALID_UTF8", "INVALID_JSON", "INVALID_CONFIG",
	"QUEUE_FULL", "TOO_LARGE", "CLOSED", "TIMEOUT", "PANIC", "NOT_FOUND", "UNAVAILABLE", "INVALID_ARGUMENT",
}

var statusText = [...]string{
	"ok",
	"not an exposure",
	"a required argument is missing",
	"a string is not valid UTF-8",
	"invalid JSON",
	"invalid config",
	"queue full: event dropped",
	"message over 32,000 bytes: dropped",
	"client is closed",
	"deadline passed; events stay queued",
	"internal error caught at the library boundary",
	"profile not found",
	"profile unavailable",
	"malformed argument",
}

// String returns the C name without the prefix, e.g. "QUEUE_FULL".
func (s Status) String() string {
	if s >= 0 && int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "STATUS_" + strconv.Itoa(int(s))
}

// Error is every error that comes from the library: its status and a message.
// Compare with errors.Is against the sentinels (ErrQueueFull, ErrTimeout, ...): any *Error
// with the same Status matches.
type Error struct {
	Status  Status
	Message string
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" && e.Status >= 0 && int(e.Status) < len(statusText) {
		msg = statusText[e.Status]
	}
	return "flagwire: " + e.Status.String() + ": " + msg
}

// Is reports whether target is an *Error with the same Status.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Status == e.Status
}

// Sentinels, one per error status, for errors.Is. They carry no message.
var (
	ErrNullArgument    = &Error{Status: StatusNullArgument}
	ErrInvalidUTF8     = &Error{Status: StatusInvalidUTF8}
	ErrInvalidJSON     = &Error{Status: StatusInvalidJSON}
	ErrInvalidConfig   = &Error{Status: StatusInvalidConfig}
	ErrQueueFull       = &Error{Status: StatusQueueFull}
	ErrTooLarge        = &Error{Status: StatusTooLarge}
	ErrClosed          = &Error{Status: StatusClosed}
	ErrTimeout         = &Error{Status: StatusTimeout}
	ErrPanic           = &Error{Status: StatusPanic}
	ErrNotFound        = &Error{Status: StatusNotFound}
	ErrUnavailable     = &Error{Status: StatusUnavailable}
	ErrInvalidArgument = &Error{Status: StatusInvalidArgument}
)

// Errors of the Go binding itself (no library status).
var (
	// ErrABIMismatch: the loaded library implements another C ABI version than this package.
	ErrABIMismatch = errors.New("flagwire: library ABI version mismatch")
	// ErrAlreadyAttached: this Client already listens to that Optimizely client (or to another
	// one that shares its notification center); a second listener would duplicate every event.
	ErrAlreadyAttached = errors.New("flagwire: already attached to this Optimizely client's notification center")
)

// sentinelFor returns the shared, message-less error for a status (no allocation on hot paths).
func sentinelFor(s Status) error {
	switch s {
	case StatusOK, StatusSkipped:
		return nil
	case StatusNullArgument:
		return ErrNullArgument
	case StatusInvalidUTF8:
		return ErrInvalidUTF8
	case StatusInvalidJSON:
		return ErrInvalidJSON
	case StatusInvalidConfig:
		return ErrInvalidConfig
	case StatusQueueFull:
		return ErrQueueFull
	case StatusTooLarge:
		return ErrTooLarge
	case StatusClosed:
		return ErrClosed
	case StatusTimeout:
		return ErrTimeout
	case StatusPanic:
		return ErrPanic
	case StatusNotFound:
		return ErrNotFound
	case StatusUnavailable:
		return ErrUnavailable
	case StatusInvalidArgument:
		return ErrInvalidArgument
	}
	return &Error{Status: s}
}
