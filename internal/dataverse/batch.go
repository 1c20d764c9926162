package dataverse

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
)

// MaxBatchRequests is Dataverse's limit of requests in one $batch.
const MaxBatchRequests = 1000

// BatchRequest is one operation inside a $batch. Build it with BatchCreate,
// BatchUpdate, BatchUpsert, BatchDelete or BatchGet, or fill it in.
type BatchRequest struct {
	// Method is GET, POST, PATCH, PUT or DELETE.
	Method string
	// Path is the resource relative to the Web API root, escaped as it goes
	// on the wire: "tasks", "contacts(<id>)". Inside a change set it may be
	// "$N" (or start with "$N/") to address the record created by an
	// earlier request of the same change set with ContentID N.
	Path string
	// Query is an OData query string, re-encoded like RetrieveMultiple's.
	Query string
	// Header adds headers to this request (If-Match, Prefer, ...).
	Header http.Header
	// Body, if not nil, is sent as JSON (a []byte or json.RawMessage as is).
	// A body may bind to an earlier change-set record with "$N", e.g.
	// "regardingobjectid_contact_phonecall@odata.bind": "$1".
	Body any
	// ChangeSet puts the request in an atomic change set: all its requests
	// succeed or none does. Consecutive ChangeSet requests share one change
	// set. GET is not allowed in a change set.
	ChangeSet bool
	// ContentID names a change-set request so later requests of the same
	// change set can refer to it as "$ContentID". Letters, digits, '-', '_'.
	ContentID string

	// err is a problem found when the request was built (a bad Ref).
	err error
}

// BatchCreate is a POST {entitySet} request.
func BatchCreate(entitySet string, body any) BatchRequest {
	return BatchRequest{Method: http.MethodPost, Path: entitySet, Body: body, err: checkIdentifier("entitySet", entitySet)}
}

// BatchUpdate is an update-only PATCH (If-Match: *) of ref.
func BatchUpdate(ref Ref, body any) BatchRequest {
	path, err := ref.path()
	return BatchRequest{Method: http.MethodPatch, Path: path, Body: body,
		Header: http.Header{"If-Match": {"*"}}, err: err}
}

// BatchUpsert is a PATCH of ref without conditions: create or update.
func BatchUpsert(ref Ref, body any) BatchRequest {
	path, err := ref.path()
	return BatchRequest{Method: http.MethodPatch, Path: path, Body: body, err: err}
}

// BatchDelete is a DELETE of ref.
func BatchDelete(ref Ref) BatchRequest {
	path, err := ref.path()
	return BatchRequest{Method: http.MethodDelete, Path: path, err: err}
}

// BatchGet is a GET {entitySet}{query}, as RetrieveMultiple sends it.
func BatchGet(entitySet, query string) BatchRequest {
	return BatchRequest{Method: http.MethodGet, Path: entitySet, Query: query, err: checkIdentifier("entitySet", entitySet)}
}

// BatchUpsertByKey is Upsert as a $batch request: a PATCH of the record
// with an alternate key, without conditions, that asks for the record back
// (Prefer: return=representation, $select of the key column) so that
// BatchResponse.UpsertedID can read its id.
func BatchUpsertByKey(entitySet, keyColumn, keyValue string, body any) BatchRequest {
	r := BatchUpsert(ByKey(entitySet, keyColumn, keyValue), body)
	r.Query = "?$select=" + keyColumn
	r.Header = http.Header{"Prefer": {"return=representation"}}
	return r
}

// Err is the problem found when the request was built (a bad Ref), which
// would refuse the whole batch it is put in; nil when there is none.
func (r BatchRequest) Err() error { return r.err }

// InChangeSet returns r placed in the change set under contentID (empty
// for none).
func (r BatchRequest) InChangeSet(contentID string) BatchRequest {
	r.ChangeSet = true
	r.ContentID = contentID
	return r
}

// BatchResponse is the answer to one request of a $batch.
type BatchResponse struct {
	// ContentID echoes the request's ContentID (change-set requests only).
	ContentID string
	Status    int
	Header    http.Header
	Body      []byte
}

// EntityID is the id of the record a create or upsert addressed, from the
// OData-EntityId header.
func (r BatchResponse) EntityID() (string, error) {
	return idFromEntityID(r.Header.Get("OData-EntityId"))
}

// UpsertedID is the id of the record a BatchUpsertByKey request wrote, and
// whether it was created (201) rather than updated (200).
func (r BatchResponse) UpsertedID(entitySet, keyColumn string) (id string, created bool, err error) {
	id, err = idFromRecordBody(r.Status, r.Body, entitySet, keyColumn)
	if err != nil {
		return "", false, fmt.Errorf("the upsert's answer: %w", err)
	}
	return id, r.Status == http.StatusCreated, nil
}

// Record decodes a JSON body holding one record.
func (r BatchResponse) Record() (Record, error) {
	var rec Record
	if err := decodeJSON(r.Body, &rec); err != nil {
		return nil, err
	}
	return rec, nil
}

// Page decodes a JSON body holding a collection, as a GET of an entity set
// returns.
func (r BatchResponse) Page() (*Page, error) {
	var body struct {
		Value    []Record `json:"value"`
		NextLink string   `json:"@odata.nextLink"`
	}
	if err := decodeJSON(r.Body, &body); err != nil {
		return nil, err
	}
	if body.Value == nil {
		return nil, errors.New(`decoding the batch answer: no "value" array`)
	}
	return &Page{Records: body.Value, NextLink: body.NextLink, Count: -1}, nil
}

// Batch sends requests as one multipart/mixed POST $batch, in order, and
// returns the answers in order. Dataverse stops at the first failing
// request: the answers then end with that failure (a failed change set
// answers only with its failing request, the rest of it rolled back), and
// the error is an *Error with that request's status, code and message.
//
// The whole batch is resent on 429 and 503. After a network failure it is
// resent only if every request is idempotent (no POST) or ctx comes from
// WithRetrySafe.
func (c *Client) Batch(ctx context.Context, requests []BatchRequest) ([]BatchResponse, error) {
	req := &request{op: "Batch", method: http.MethodPost, url: c.root + "$batch"}
	_, responses, stopErr, err := c.exchangeBatch(ctx, req, requests)
	if err != nil {
		return nil, err
	}
	for _, r := range responses {
		if r.Status >= 400 {
			return responses, c.partError(req.method, req.url, r)
		}
	}
	if stopErr != nil {
		// A failing status without a failing part: report the status.
		return responses, stopErr
	}
	return responses, nil
}

// BatchResult is the outcome of one request of BatchIndependent.
type BatchResult struct {
	// Response is Dataverse's answer to the request; the zero value when
	// the request did not run.
	Response BatchResponse
	// Err is nil for a 2xx answer. Otherwise it is an *Error carrying this
	// request's own status, code, message and Retry-After, so errors.Is
	// (ErrBadRequest, ErrNotFound, ErrPreconditionFailed, ...) and
	// Retryable work as for a request sent alone.
	Err error
}

// errNotRun marks the requests after the one a batch stopped at.
var errNotRun = errors.New("not run: Dataverse stopped the $batch at an earlier failing request")

// BatchIndependent sends requests that do not depend on each other as one
// $batch with Prefer: odata.continue-on-error, so that a failing request
// does not stop the ones after it, and returns one result per request, in
// order. Change sets are refused: a failing change set answers for all its
// requests with one part.
//
// The error is for the batch as a whole, when no request has an answer of
// its own: a 429 or 503 on the $batch (resent like Batch first), a network
// failure, a refused or unreadable answer. Should Dataverse stop at a
// failure anyway, the requests after it get a retryable *Error saying they
// did not run.
func (c *Client) BatchIndependent(ctx context.Context, requests []BatchRequest) ([]BatchResult, error) {
	req := &request{op: "Batch", method: http.MethodPost, url: c.root + "$batch",
		header: http.Header{"Prefer": {"odata.continue-on-error"}}}
	for i, r := range requests {
		if r.ChangeSet {
			return nil, c.notSent(req, fmt.Errorf("requests[%d]: BatchIndependent takes no change sets (a failing change set answers for all its requests at once); use Batch", i))
		}
	}
	// A Dataverse that stopped at a failure despite the preference answers
	// with that request's status and the parts so far (stopErr).
	res, responses, stopErr, err := c.exchangeBatch(ctx, req, requests)
	if err != nil {
		return nil, err
	}
	stopped := len(responses) > 0 && len(responses) < len(requests) && responses[len(responses)-1].Status >= 400
	if len(responses) != len(requests) && !stopped {
		return nil, c.badAnswer(req, res, fmt.Errorf("%d answers to %d requests", len(responses), len(requests)))
	}
	results := make([]BatchResult, len(requests))
	failed := false
	for i, r := range requests {
		url := c.root + r.Path
		if i >= len(responses) {
			results[i].Err = &Error{Op: "Batch", Method: r.Method, URL: url, Err: errNotRun}
			continue
		}
		part := responses[i]
		results[i].Response = part
		if part.Status >= 400 {
			failed = true
			results[i].Err = c.partError(r.Method, url, part)
		}
	}
	if stopErr != nil && !failed {
		// A failing status without a failing part: report the status.
		return nil, stopErr
	}
	return results, nil
}

// exchangeBatch sends requests as req and reads the parts of the answer.
// Dataverse answers a batch that stopped at a failing request with that
// request's status and a multipart body holding the parts so far: that
// status comes back as stopErr, beside the parts. Any other failure is err.
func (c *Client) exchangeBatch(ctx context.Context, req *request, requests []BatchRequest) (res *response, parts []BatchResponse, stopErr, err error) {
	res, err = c.sendBatch(ctx, req, requests)
	if err != nil {
		var e *Error
		if res == nil || !errors.As(err, &e) || !isMultipart(res.header.Get("Content-Type")) {
			return nil, nil, nil, err
		}
		stopErr = err
	}
	parts, perr := parseBatchResponse(res.header.Get("Content-Type"), res.body)
	if perr != nil {
		return nil, nil, nil, c.badAnswer(req, res, perr)
	}
	return res, parts, stopErr, nil
}

// partError is the *Error of a failing part, for the request sent as
// method url.
func (c *Client) partError(method, url string, part BatchResponse) *Error {
	code, message := decodeErrorBody(part.Body)
	return &Error{Op: "Batch", Method: method, URL: url, Status: part.Status,
		Code: code, Message: message, RetryAfter: parseRetryAfter(part.Header.Get("Retry-After"), c.now())}
}

// sendBatch encodes requests into req and sends it.
func (c *Client) sendBatch(ctx context.Context, req *request, requests []BatchRequest) (*response, error) {
	body, boundary, idempotent, err := c.encodeBatch(ctx, requests)
	if err != nil {
		return nil, c.notSent(req, err)
	}
	req.body = body
	req.contentType = "multipart/mixed; boundary=" + boundary
	req.idempotent = idempotent
	return c.do(ctx, req)
}

// encodeBatch writes the multipart body and reports whether every request
// is idempotent.
func (c *Client) encodeBatch(ctx context.Context, requests []BatchRequest) (body []byte, boundary string, idempotent bool, err error) {
	switch {
	case len(requests) == 0:
		return nil, "", false, errors.New("requests: empty batch")
	case len(requests) > MaxBatchRequests:
		return nil, "", false, fmt.Errorf("requests: %d requests, Dataverse takes at most %d per batch; split them", len(requests), MaxBatchRequests)
	}
	var buf bytes.Buffer
	batch := multipart.NewWriter(&buf)
	if err := batch.SetBoundary("batch_" + randomToken()); err != nil {
		return nil, "", false, err
	}
	idempotent = true
	contentIDs := map[string]bool{}  // every Content-ID in the batch
	var changeSet *multipart.Writer  // the open change set, if any
	var changeSetIDs map[string]bool // Content-IDs of the open change set
	closeChangeSet := func() error {
		if changeSet == nil {
			return nil
		}
		err := changeSet.Close()
		changeSet, changeSetIDs = nil, nil
		return err
	}
	for i, r := range requests {
		where := fmt.Sprintf("requests[%d]", i)
		if err := c.checkBatchRequest(where, r, contentIDs, changeSetIDs); err != nil {
			return nil, "", false, err
		}
		if r.Method == http.MethodPost {
			idempotent = false
		}
		var w *multipart.Writer
		if r.ChangeSet {
			if changeSet == nil {
				cs := "changeset_" + randomToken()
				part, err := batch.CreatePart(textproto.MIMEHeader{"Content-Type": {"multipart/mixed; boundary=" + cs}})
				if err != nil {
					return nil, "", false, err
				}
				changeSet = multipart.NewWriter(part)
				if err := changeSet.SetBoundary(cs); err != nil {
					return nil, "", false, err
				}
				changeSetIDs = map[string]bool{}
			}
			w = changeSet
		} else {
			if err := closeChangeSet(); err != nil {
				return nil, "", false, err
			}
			w = batch
		}
		if r.ContentID != "" {
			contentIDs[r.ContentID] = true
			changeSetIDs[r.ContentID] = true
		}
		if err := c.writeBatchPart(ctx, w, where, r); err != nil {
			return nil, "", false, err
		}
	}
	if err := closeChangeSet(); err != nil {
		return nil, "", false, err
	}
	if err := batch.Close(); err != nil {
		return nil, "", false, err
	}
	return buf.Bytes(), batch.Boundary(), idempotent, nil
}

func (c *Client) checkBatchRequest(where string, r BatchRequest, contentIDs, changeSetIDs map[string]bool) error {
	if r.err != nil {
		return fmt.Errorf("%s: %w", where, r.err)
	}
	switch r.Method {
	case http.MethodGet:
		if r.ChangeSet {
			return fmt.Errorf("%s: GET is not allowed in a change set; set ChangeSet false", where)
		}
	case http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete:
	default:
		return fmt.Errorf("%s.Method: %q is not GET, POST, PATCH, PUT or DELETE", where, r.Method)
	}
	if r.ContentID != "" {
		if !r.ChangeSet {
			return fmt.Errorf("%s.ContentID: only change-set requests can be referred to; set ChangeSet or drop ContentID", where)
		}
		if !isToken(r.ContentID) {
			return fmt.Errorf("%s.ContentID: %q must be letters, digits, '-' or '_'", where, r.ContentID)
		}
		if contentIDs[r.ContentID] {
			return fmt.Errorf("%s.ContentID: %q is used twice in the batch", where, r.ContentID)
		}
	}
	if ref, ok := strings.CutPrefix(r.Path, "$"); ok {
		id, _, _ := strings.Cut(ref, "/")
		if !r.ChangeSet || !changeSetIDs[id] {
			return fmt.Errorf("%s.Path: %q refers to no earlier request of the same change set", where, r.Path)
		}
		return nil
	}
	return checkBatchPath(where, r.Path)
}

// checkBatchPath accepts an escaped relative resource path: no scheme, no
// leading slash, no query or fragment, nothing a request line could be
// broken with.
func checkBatchPath(where, p string) error {
	if p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, "://") {
		return fmt.Errorf("%s.Path: %q must be relative to the Web API root, e.g. contacts(<id>)", where, p)
	}
	for i := 0; i < len(p); i++ {
		ch := p[i]
		if isUnreserved(ch) || strings.IndexByte("!$&'()*+,;=:@/%", ch) >= 0 {
			continue
		}
		return fmt.Errorf("%s.Path: %q has %q at byte %d; escape it, and put query options in Query", where, p, ch, i)
	}
	return nil
}

func (c *Client) writeBatchPart(ctx context.Context, w *multipart.Writer, where string, r BatchRequest) error {
	target := r.Path
	if !strings.HasPrefix(target, "$") {
		target = c.s.apiRoot.Path + target
	}
	q, dropped, err := encodeQuery(r.Query)
	if err != nil {
		return fmt.Errorf("%s.Query: %w", where, err)
	}
	if dropped {
		c.s.logger.DebugContext(ctx, "dataverse: dropped $search, which /api/data does not support", "op", "Batch", "request", where)
	}
	var body []byte
	var impersonate caller
	if cl, ok := callerFrom(ctx); ok {
		// Sent on the $batch request too; repeated per operation so the
		// impersonation holds whichever level Dataverse reads it from.
		id, err := normalizeGUID(cl.header, cl.id)
		if err != nil {
			return err
		}
		impersonate = caller{header: cl.header, id: id}
	}
	if r.Body != nil {
		if body, err = marshalBody(r.Body); err != nil {
			return fmt.Errorf("%s.%w", where, err)
		}
	}

	partHeader := textproto.MIMEHeader{
		"Content-Type":              {"application/http"},
		"Content-Transfer-Encoding": {"binary"},
	}
	if r.ContentID != "" {
		partHeader["Content-ID"] = []string{r.ContentID} // the casing Dataverse documents
	}
	part, err := w.CreatePart(partHeader)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s%s HTTP/1.1\r\n", r.Method, target, q)
	h := http.Header{}
	h.Set("Accept", "application/json")
	if body != nil {
		h.Set("Content-Type", "application/json; type=entry")
	}
	if impersonate.header != "" {
		h[impersonate.header] = []string{impersonate.id}
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			if strings.ContainsAny(v, "\r\n") || strings.ContainsAny(k, "\r\n: ") {
				return fmt.Errorf("%s.Header: %q has a line break or colon", where, k)
			}
		}
		h[textproto.CanonicalMIMEHeaderKey(k)] = vs
	}
	if err := h.Write(&b); err != nil {
		return err
	}
	b.WriteString("\r\n")
	b.Write(body)
	_, err = part.Write(b.Bytes())
	return err
}

// parseBatchResponse reads a multipart/mixed batch answer, descending into
// change-set parts, into answers in order.
func parseBatchResponse(contentType string, body []byte) ([]BatchResponse, error) {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil || !strings.HasPrefix(mediaType, "multipart/") || params["boundary"] == "" {
		return nil, fmt.Errorf("Content-Type %q is not multipart with a boundary", contentType)
	}
	var out []BatchResponse
	if err := readBatchParts(bytes.NewReader(body), params["boundary"], 0, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func readBatchParts(r io.Reader, boundary string, depth int, out *[]BatchResponse) error {
	mr := multipart.NewReader(r, boundary)
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the batch answer: %w", err)
		}
		mediaType, params, err := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if err != nil {
			return fmt.Errorf("batch answer part %d: Content-Type %q: %w", len(*out), part.Header.Get("Content-Type"), err)
		}
		switch {
		case strings.HasPrefix(mediaType, "multipart/"):
			if depth > 0 {
				return errors.New("batch answer: change set nested in a change set")
			}
			if err := readBatchParts(part, params["boundary"], depth+1, out); err != nil {
				return err
			}
		case mediaType == "application/http":
			hres, err := http.ReadResponse(bufio.NewReader(part), nil)
			if err != nil {
				return fmt.Errorf("batch answer part %d: %w", len(*out), err)
			}
			b, err := io.ReadAll(io.LimitReader(hres.Body, maxResponseBody))
			hres.Body.Close()
			if err != nil {
				return fmt.Errorf("batch answer part %d: %w", len(*out), err)
			}
			*out = append(*out, BatchResponse{
				ContentID: part.Header.Get("Content-ID"),
				Status:    hres.StatusCode,
				Header:    hres.Header,
				Body:      bytes.TrimRight(b, "\r\n"),
			})
		default:
			return fmt.Errorf("batch answer part %d: unexpected Content-Type %q", len(*out), mediaType)
		}
	}
}

func isMultipart(contentType string) bool {
	mediaType, _, err := mime.ParseMediaType(contentType)
	return err == nil && strings.HasPrefix(mediaType, "multipart/")
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return s != ""
}

func randomToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}
