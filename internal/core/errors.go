package core

import (
	"errors"
	"fmt"
)

// Error codes. They cross the HTTP boundary as strings; callers switch on
// codes, never on message text.
const (
	EInvalid           = "invalid"            // malformed or out-of-range input
	ENotFound          = "not_found"          // missing, or not visible to the caller
	EConflict          = "conflict"           // state does not allow the operation
	EUnauthorized      = "unauthorized"       // missing or unknown credentials
	EForbidden         = "forbidden"          // authenticated, but the role may not do this
	EInsufficientFunds = "insufficient_funds" // the wallet cannot cover a hold
	EUnschedulable     = "unschedulable"      // no center could ever run the job
	ETooLarge          = "too_large"          // request body or list over its limit
	EInternal          = "internal"           // a bug or an I/O failure; details are logged only
	EUnavailable       = "unavailable"        // overloaded or the database is down: nothing changed, retry
)

// Error is suanli's one error type for anything a user can see.
// Field names the offending input field when there is one.
type Error struct {
	Code    string
	Field   string
	Message string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Errorf builds an *Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldErrorf builds an EInvalid *Error that names field.
func FieldErrorf(field, format string, args ...any) *Error {
	return &Error{Code: EInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, EInternal for errors that are not ours.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err == nil {
		return ""
	}
	return EInternal
}
