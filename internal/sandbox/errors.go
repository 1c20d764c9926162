package sandbox

import (
	"fmt"
	"net/http"
)

// apiError is a Web API error: an HTTP status and the body
// {"error":{"code":"0x...","message":"..."}} Dataverse sends.
type apiError struct {
	Status  int
	Code    string
	Message string
	// Header holds extra response headers, such as Retry-After.
	Header http.Header
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

// Dataverse error codes the sandbox answers with. The hex codes and
// messages follow Microsoft's documentation (Web service error codes,
// Service protection API limits, Perform conditional operations).
const (
	codeObjectDoesNotExist  = "0x80040217" // ObjectDoesNotExist
	codeDuplicateRecord     = "0x80040237" // DuplicateRecord
	codeInvalidArgument     = "0x80040203" // InvalidArgument
	codeUnspecified         = "0x80040216" // Unspecified
	codeConcurrencyMismatch = "0x80060882" // ConcurrencyVersionMismatch
	codeQuery               = "0x80060888" // OData URI and query errors
	codePayload             = "0x80048d19" // errors in the request payload
	codeValidation          = "0x80044331" // attribute validation (length)
	codeThrottled           = "0x80072322" // number of requests exceeded
	codeNotAuthenticated    = "0x80072560" // no or bad bearer token
)

func newError(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func errRecordNotFound(t *table, id string) *apiError {
	return newError(http.StatusNotFound, codeObjectDoesNotExist, "%s With Id = %s Does Not Exist", t.logical, id)
}

func errKeyNotFound(t *table, key string) *apiError {
	return newError(http.StatusNotFound, codeObjectDoesNotExist, "A record with the specified key values does not exist in %s entity", t.logical)
}

func errPropertyNotFound(t *table, name string) *apiError {
	return newError(http.StatusBadRequest, codeQuery, "Could not find a property named '%s' on type '%s'.", name, t.qualifiedType())
}

func errSegmentNotFound(segment string) *apiError {
	return newError(http.StatusNotFound, codeQuery, "Resource not found for the segment '%s'.", segment)
}

func errQuery(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, codeQuery, format, args...)
}

// errPayload wraps a payload problem the way Dataverse reports OData
// deserialization failures.
func errPayload(t *table, format string, args ...any) *apiError {
	return &apiError{
		Status: http.StatusBadRequest,
		Code:   codePayload,
		Message: fmt.Sprintf("Error identified in Payload provided by the user for Entity :'%s', For more information on this error please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ----> InnerException : Microsoft.OData.ODataException: ", t.set) +
			fmt.Sprintf(format, args...),
	}
}

func errDuplicateOption(name string) *apiError {
	return errQuery("Query option '%s' was specified more than once, but it must be specified at most once.", name)
}

func errMethodNotAllowed(method string) *apiError {
	return newError(http.StatusMethodNotAllowed, codeQuery, "The requested resource does not support http method '%s'.", method)
}

func errDuplicateKey() *apiError {
	return newError(http.StatusPreconditionFailed, codeDuplicateRecord, "A record with matching key values already exists.")
}

func errConcurrency() *apiError {
	return newError(http.StatusPreconditionFailed, codeConcurrencyMismatch, "The version of the existing record doesn't match the RowVersion property provided.")
}

func errStatus(m *stateModel, status, state int64) *apiError {
	label := m.stateLabels[state]
	if label == "" {
		label = fmt.Sprint(state)
	}
	return newError(http.StatusBadRequest, codeInvalidArgument, "%d is not a valid status code for state code %s.%s", status, m.enumName, label)
}

func errTooLong(t *table, c *column) *apiError {
	return newError(http.StatusBadRequest, codeValidation, "A validation error occurred.  The length of the '%s' attribute of the '%s' entity exceeded the maximum allowed length of '%d'.", c.name, t.logical, c.maxLen)
}
