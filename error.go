package onus

import (
	"errors"
	"fmt"
)

// Error codes classify application errors; they are stable and appear in
// JSON output, so scripts may rely on them.
const (
	EINVALID  = "invalid"   // bad input: config, export file, flag
	ENOTFOUND = "not_found" // a named thing does not exist: the only not-found signal; test it with ErrorCode
	ECONFLICT = "conflict"  // the operation conflicts with the current state
	EINTERNAL = "internal"  // a bug or an unexpected failure
	// EUNAUTHORIZED: nobody is signed in, or the credential is not valid.
	EUNAUTHORIZED = "unauthorized"
	// EFORBIDDEN: the signed-in person may not do this.
	EFORBIDDEN = "forbidden"
)

// Error is an application error: a code for machines and a message that is
// safe and useful to show to a user. Internal details stay in the wrapped
// error chain and are never put in Message.
type Error struct {
	Code    string
	Message string
	// Err is the cause, for errors.Is and errors.As; it is never shown.
	Err error
}

// Error implements the error interface.
func (e *Error) Error() string { return e.Message }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an application error with the given code and message.
// A %w verb wraps its argument as the cause, as fmt.Errorf does, for
// errors.Is and errors.As; its text is then part of the message, so wrap
// only errors whose text is safe to show.
func Errorf(code, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	e := &Error{Code: code, Message: err.Error()}
	switch err.(type) {
	case interface{ Unwrap() error }:
		e.Err = errors.Unwrap(err)
	case interface{ Unwrap() []error }:
		e.Err = err
	}
	return e
}

// ErrorCode returns the code of the first application error in err's chain,
// or EINTERNAL when there is none. It returns "" for a nil error.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-safe message of the first application error
// in err's chain, or a generic message when there is none.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
