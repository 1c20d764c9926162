package dataverse

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// Sentinels for errors.Is. Every error the client returns for a failed
// request is an *Error; these let callers branch on the kind of failure
// without looking at status codes.
var (
	// ErrBadRequest: Dataverse rejected the request as malformed (400), or
	// the client refused to send it (Error.NotSent) because a query string,
	// key or id was invalid. Retrying the same request cannot succeed.
	ErrBadRequest = errors.New("dataverse: bad request")
	// ErrUnauthorized: the token endpoint refused the credentials, or
	// Dataverse answered 401 even after one token refresh.
	ErrUnauthorized = errors.New("dataverse: unauthorized")
	// ErrForbidden: the application user lacks a privilege (403), for
	// example the delegate privilege needed for impersonation.
	ErrForbidden = errors.New("dataverse: forbidden")
	// ErrNotFound: the record does not exist (404); also what an update-only
	// PATCH (If-Match: *) answers for a missing record.
	ErrNotFound = errors.New("dataverse: not found")
	// ErrPreconditionFailed: an If-Match or If-None-Match condition failed
	// (412).
	ErrPreconditionFailed = errors.New("dataverse: precondition failed")
	// ErrThrottled: a service protection limit was hit (429) and the client
	// gave up waiting (attempts exhausted or the context deadline is too
	// close to wait for Retry-After).
	ErrThrottled = errors.New("dataverse: throttled by service protection limits")
	// ErrAlreadyExists: CreateOnly found a record with the same key. The
	// error is an *AlreadyExistsError.
	ErrAlreadyExists = errors.New("dataverse: record already exists")
)

// Error is a failed Dataverse request: an HTTP error answer, a network
// failure, a token failure, or a request the client refused to send.
type Error struct {
	// Op is the client operation, e.g. "Create" or "RetrieveMultiple".
	Op string
	// Method and URL identify the request. URL never holds credentials (the
	// token travels in a header, the client secret in the token request
	// body), but its query string may hold what was searched for.
	Method string
	URL    string
	// Status is the HTTP status; 0 for a network failure or a request that
	// was not sent.
	Status int
	// Code and Message come from Dataverse's {"error":{"code","message"}}
	// body, or from the token endpoint's error and error_description.
	Code    string
	Message string
	// RetryAfter is the server's Retry-After on the last answer, if any.
	RetryAfter time.Duration
	// Attempts is how many times the request was sent.
	Attempts int
	// NotSent is true when the client rejected the request before sending
	// it (a malformed query string, key or id), so Dataverse never saw it.
	NotSent bool
	// Err is the underlying cause of a network or token failure.
	Err error

	// token marks failures of the token request rather than of Dataverse.
	token bool
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("dataverse ")
	b.WriteString(e.Op)
	if e.token {
		b.WriteString(": token request")
	}
	if e.Method != "" {
		fmt.Fprintf(&b, ": %s %s", e.Method, e.URL)
	}
	switch {
	case e.NotSent:
		b.WriteString(": not sent")
	case e.Status != 0:
		fmt.Fprintf(&b, ": %d %s", e.Status, http.StatusText(e.Status))
	}
	if e.Code != "" {
		fmt.Fprintf(&b, ": %s", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (Retry-After %s)", e.RetryAfter)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	return b.String()
}

// Unwrap returns the network or token cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// Is matches the package sentinels by status (and, for token failures, by
// what they mean for the caller: a refused credential is ErrUnauthorized
// whatever status the token endpoint used).
func (e *Error) Is(target error) bool {
	if e.NotSent {
		return target == ErrBadRequest
	}
	if e.token {
		return target == ErrUnauthorized && e.Status >= 400 && e.Status < 500 && e.Status != http.StatusTooManyRequests
	}
	switch e.Status {
	case http.StatusBadRequest:
		return target == ErrBadRequest
	case http.StatusUnauthorized:
		return target == ErrUnauthorized
	case http.StatusForbidden:
		return target == ErrForbidden
	case http.StatusNotFound:
		return target == ErrNotFound
	case http.StatusPreconditionFailed:
		return target == ErrPreconditionFailed
	case http.StatusTooManyRequests:
		return target == ErrThrottled
	}
	return false
}

// Retryable reports whether the same request may succeed later: throttling
// (429), a busy or unreachable service (502, 503, 504), a network failure,
// or a token endpoint that was unreachable or failing. It says nothing about
// whether resending is safe: the client itself resends a non-idempotent
// request (a POST create) only when it knows the first one was not
// processed; see the package documentation.
func (e *Error) Retryable() bool {
	if e.NotSent {
		return false
	}
	switch e.Status {
	case 0:
		return e.Err != nil
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return e.token && e.Status >= 500
}

// AlreadyExistsError is CreateOnly's answer when a record with the key
// already exists (Dataverse's 412 for If-None-Match: *). errors.Is matches
// both ErrAlreadyExists and ErrPreconditionFailed.
type AlreadyExistsError struct {
	// Ref is the key that was taken.
	Ref Ref
	// AfterRetry is true when an earlier attempt of this same call failed on
	// the network: the existing record may then be the one this call created.
	AfterRetry bool
	// Cause is Dataverse's 412 answer.
	Cause *Error
}

func (e *AlreadyExistsError) Error() string {
	s := fmt.Sprintf("dataverse CreateOnly: %s already exists", e.Ref)
	if e.AfterRetry {
		s += " (an earlier attempt of this call may have created it)"
	}
	return s
}

// Is matches ErrAlreadyExists.
func (e *AlreadyExistsError) Is(target error) bool { return target == ErrAlreadyExists }

// Unwrap returns the 412 *Error.
func (e *AlreadyExistsError) Unwrap() error { return e.Cause }

// maxErrorMessage bounds a message taken from a non-JSON error body (an HTML
// gateway page, say), so one bad answer cannot flood the logs.
const maxErrorMessage = 512

// decodeErrorBody reads Dataverse's {"error":{"code":...,"message":...}}.
// Anything else becomes the message, trimmed and bounded.
func decodeErrorBody(body []byte) (code, message string) {
	var envelope struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &envelope); err == nil && envelope.Error != nil {
		return envelope.Error.Code, envelope.Error.Message
	}
	return "", truncate(string(bytes.TrimSpace(body)), maxErrorMessage)
}

func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
