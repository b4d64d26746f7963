package management

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/jobhooks/jobhooks/shared/secrets"
)

// Code is a google.rpc status code name, as the error body's "status" carries it.
type Code string

// The codes the API answers with (shared/restapi/README.md, The management API).
// FAILED_PRECONDITION is google.rpc's code for "the request is valid but the resource is not in a
// state that allows it" (retrying a pending delivery, pinging a disabled webhook); Google maps it
// to HTTP 400.
const (
	InvalidArgument    Code = "INVALID_ARGUMENT"
	FailedPrecondition Code = "FAILED_PRECONDITION"
	Unauthenticated    Code = "UNAUTHENTICATED"
	PermissionDenied   Code = "PERMISSION_DENIED"
	NotFound           Code = "NOT_FOUND"
	AlreadyExists      Code = "ALREADY_EXISTS"
	ResourceExhausted  Code = "RESOURCE_EXHAUSTED"
	Internal           Code = "INTERNAL"
	Unavailable        Code = "UNAVAILABLE"
)

// HTTPStatus is the HTTP status Google's APIs answer a code with.
func (c Code) HTTPStatus() int {
	switch c {
	case InvalidArgument, FailedPrecondition:
		return http.StatusBadRequest
	case Unauthenticated:
		return http.StatusUnauthorized
	case PermissionDenied:
		return http.StatusForbidden
	case NotFound:
		return http.StatusNotFound
	case AlreadyExists:
		return http.StatusConflict
	case ResourceExhausted:
		return http.StatusTooManyRequests
	case Unavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// Error is an error meant for the API caller: a code and a sentence. Field, when set, is the
// path of the offending field as Surface A spells it (e.g. "request_headers[2].key"); a codec
// renames it for its surface. Messages never contain secrets or API keys.
type Error struct {
	Code    Code
	Field   string
	Message string
	// RetryAfter, when set (RESOURCE_EXHAUSTED), is how long the caller should wait: the
	// Retry-After header.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Errorf builds an Error without a field.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// invalid builds an INVALID_ARGUMENT error about one field.
func invalid(field, format string, args ...any) *Error {
	return &Error{Code: InvalidArgument, Field: field, Message: fmt.Sprintf(format, args...)}
}

// notFound is the one NOT_FOUND message of a resource: the same whether it never existed, was
// deleted, or belongs to a project the caller's key does not (shared/restapi/README.md, Limits and
// rules: do not reveal existence).
func notFound(resource string) *Error {
	return Errorf(NotFound, "%s was not found", resource)
}

// NotFoundError is the NOT_FOUND answer for a resource name, for the codecs' tenancy check.
func NotFoundError(resource string) *Error { return notFound(resource) }

// AsError turns any error into the one answered to the caller. Errors of this package pass
// through; a Secret Manager or deadline problem becomes UNAVAILABLE (Google clients retry it);
// anything else INTERNAL, with a message that says nothing of the cause (which is logged).
func AsError(err error) *Error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, secrets.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return Errorf(Unavailable, "a backing service did not answer in time; try again")
	default:
		return Errorf(Internal, "internal error")
	}
}

// Text is the message shown to the caller, with the first element of the field path renamed by
// rename (a surface's own field names; nil keeps Surface A's).
func (e *Error) Text(rename func(string) string) string {
	if e.Field == "" || rename == nil {
		return e.Error()
	}
	head, rest := e.Field, ""
	if i := strings.IndexAny(e.Field, "[."); i >= 0 {
		head, rest = e.Field[:i], e.Field[i:]
	}
	return rename(head) + rest + ": " + e.Message
}
