// Package dataverse is the Dynamics 365 / Dataverse Web API v9.2 client:
// OAuth2 client credentials against Microsoft Entra ID, the OData headers,
// record operations, $batch, and Dataverse's service protection limits.
//
// Every request carries OData-Version and OData-MaxVersion 4.0 and Accept:
// application/json; a body is JSON. With credentials configured the client
// fetches a token from the token endpoint (client credentials, scope
// {org}/.default), caches it until shortly before it expires, and on a 401
// fetches a new one and resends once. Without credentials no Authorization
// header is sent (the sandbox CRM in demo mode).
//
// # Retries
//
// One call sends its request at most Config.MaxAttempts times:
//   - 429 (service protection) and 503: resent after Retry-After (seconds
//     or an HTTP date), or after exponential backoff with full jitter
//     (random in [0, min(MaxBackoff, BaseBackoff·2^n)]) when there is none.
//     Dataverse refused these before running them, so any request is resent.
//   - 502 and 504, and network failures (refused or dropped connections,
//     a body cut short): resent only if the request is idempotent: GET,
//     PATCH (update, upsert, create-only) and DELETE. A POST create is sent
//     once, because Dataverse may have created the record before the
//     connection dropped and a resend would duplicate it; WithRetrySafe
//     overrides this for callers that know a duplicate is harmless.
//   - Anything else (400, 403, 404, 412, 500 ...) is returned at once.
//
// Waiting never outlives the context: if the wait would pass its deadline
// the last answer is returned at once (with Error.RetryAfter, for the caller
// to reschedule), and a context ended while waiting ends the call.
// Config.MaxConcurrency caps requests in flight; a slot is held for the
// request and its answer, never while waiting to retry.
//
// # Errors
//
// Failures are *Error values carrying the operation, method, URL, status,
// Dataverse's error code and message, Retry-After and the number of
// attempts. errors.Is matches ErrBadRequest, ErrUnauthorized, ErrForbidden,
// ErrNotFound, ErrPreconditionFailed and ErrThrottled; Error.Retryable says
// whether trying later may help. Tokens and the client secret are never
// logged or put in errors.
package dataverse
