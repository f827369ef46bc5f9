package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"

	"github.com/suanli/suanli/internal/core"
)

// Error is the body of every API error: a machine-readable code, a message
// for people, the offending field when there is one, and huma's validation
// details.
type Error struct {
	Status  int                 `json:"status"`
	Code    string              `json:"code" doc:"Machine-readable error code, e.g. invalid, not_found, insufficient_funds."`
	Message string              `json:"message"`
	Field   string              `json:"field,omitempty" doc:"The input field the error is about, e.g. body.replicas[0].cpu_milli."`
	Errors  []*huma.ErrorDetail `json:"errors,omitempty"`
}

func (e *Error) Error() string  { return e.Message }
func (e *Error) GetStatus() int { return e.Status }

// statusCodes maps error codes to HTTP statuses; the one table for both
// directions.
var statusCodes = map[string]int{
	core.EInvalid:           http.StatusUnprocessableEntity,
	core.ENotFound:          http.StatusNotFound,
	core.EConflict:          http.StatusConflict,
	core.EUnauthorized:      http.StatusUnauthorized,
	core.EForbidden:         http.StatusForbidden,
	core.EInsufficientFunds: http.StatusPaymentRequired,
	core.EUnschedulable:     http.StatusUnprocessableEntity,
	core.ETooLarge:          http.StatusRequestEntityTooLarge,
	core.EInternal:          http.StatusInternalServerError,
	core.EUnavailable:       http.StatusServiceUnavailable,
}

func codeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "malformed"
	case http.StatusRequestEntityTooLarge:
		return core.ETooLarge
	case http.StatusMethodNotAllowed, http.StatusNotAcceptable, http.StatusUnsupportedMediaType:
		return "unsupported"
	}
	for code, s := range statusCodes {
		if s == status && code != core.EUnschedulable {
			return code
		}
	}
	if status >= 500 {
		return core.EInternal
	}
	return "error"
}

var installErrors sync.Once

// installErrorModel makes huma produce our Error for its own failures
// (validation, body too large, malformed JSON). huma exposes this only as
// a package variable, so it is set once per process.
func installErrorModel() {
	installErrors.Do(func() {
		huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
			e := &Error{Status: status, Code: codeForStatus(status), Message: msg}
			for _, err := range errs {
				if err == nil {
					continue
				}
				var d huma.ErrorDetailer
				if errors.As(err, &d) {
					e.Errors = append(e.Errors, d.ErrorDetail())
				} else {
					e.Errors = append(e.Errors, &huma.ErrorDetail{Message: err.Error()})
				}
			}
			if len(e.Errors) > 0 {
				first := e.Errors[0]
				// Name the missing property itself, not just "body".
				if prop, ok := strings.CutPrefix(first.Message, "expected required property "); ok {
					prop, _, _ = strings.Cut(prop, " ")
					first.Location = strings.TrimSuffix(first.Location+"."+prop, ".")
				}
				e.Field = first.Location
				e.Message = fmt.Sprintf("%s: %s", strings.TrimSuffix(msg, "."), first.Message)
				if first.Location != "" {
					e.Message = fmt.Sprintf("%s: %s: %s", strings.TrimSuffix(msg, "."), first.Location, first.Message)
				}
				if status == http.StatusUnprocessableEntity || status == http.StatusBadRequest {
					e.Code = core.EInvalid
					if status == http.StatusBadRequest {
						e.Code = "malformed"
					}
				}
			}
			return e
		}
	})
}

// fail converts any error from below into an API error: a transient
// database failure is 503 "unavailable" (retry; nothing changed), internal
// errors are logged with detail and shown as "internal error".
func (s *Server) fail(err error) error {
	if s.Retryable != nil && s.Retryable(err) {
		s.Log.Warn("database unavailable", "err", err)
		return &Error{Status: http.StatusServiceUnavailable, Code: core.EUnavailable,
			Message: "the database is unavailable; nothing was changed, retry shortly"}
	}
	return fail(s.Log, err)
}

// fail converts any error from below into an API error. Internal errors are
// logged with detail and shown as "internal error".
func fail(log *slog.Logger, err error) error {
	var ce *core.Error
	if errors.As(err, &ce) {
		status, ok := statusCodes[ce.Code]
		if !ok {
			status = http.StatusBadRequest
		}
		e := &Error{Status: status, Code: ce.Code, Message: ce.Message}
		if ce.Field != "" {
			e.Field = "body." + ce.Field
			e.Message = ce.Field + ": " + ce.Message
		}
		if status < 500 || status == http.StatusServiceUnavailable {
			return e
		}
	}
	log.Error("internal error", "err", err)
	return &Error{Status: http.StatusInternalServerError, Code: core.EInternal, Message: "internal error"}
}
