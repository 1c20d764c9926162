package dataverse

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Record is one Dataverse row as JSON: column names to values, with OData
// annotations ("@odata.etag", "x@OData.Community.Display.V1.FormattedValue")
// as keys too. Numbers are json.Number, so money and big integers keep their
// exact text.
type Record map[string]any

// Page is one page of a RetrieveMultiple answer.
type Page struct {
	Records []Record
	// NextLink is @odata.nextLink: where the next page is; empty on the last
	// page.
	NextLink string
	// Count is @odata.count when the query asked for $count=true, else -1.
	Count int
}

// RetrieveMultiple runs a query against an entity set: GET
// /api/data/v9.2/{entitySet}{query}. query is an OData query string as the
// engine compiles it ("?$select=...&$filter=telephone1 eq '0299990000'");
// it is re-encoded for the wire, and $search (not an /api/data option) is
// dropped. A query that cannot be read is an ErrBadRequest error with
// NotSent set.
func (c *Client) RetrieveMultiple(ctx context.Context, entitySet, query string) (*Page, error) {
	req := &request{op: "RetrieveMultiple", method: http.MethodGet, idempotent: true}
	if err := checkIdentifier("entitySet", entitySet); err != nil {
		req.url = c.root + entitySet
		return nil, c.notSent(req, err)
	}
	q, err := c.query(ctx, req, query)
	req.url = c.root + entitySet + q
	if err != nil {
		req.url = c.root + entitySet
		return nil, c.notSent(req, err)
	}
	return c.fetchPage(ctx, req)
}

// NextPage fetches the page after p by following its @odata.nextLink, with
// the same page size preference. It returns nil, nil when p is the last page.
// A next link pointing outside the client's Web API root is refused, so the
// token is never sent elsewhere.
func (c *Client) NextPage(ctx context.Context, p *Page) (*Page, error) {
	if p == nil || p.NextLink == "" {
		return nil, nil
	}
	req := &request{op: "NextPage", method: http.MethodGet, url: p.NextLink, idempotent: true}
	u, err := url.Parse(p.NextLink)
	if err != nil || u.Scheme != c.s.apiRoot.Scheme || u.Host != c.s.apiRoot.Host || !strings.HasPrefix(u.Path, c.s.apiRoot.Path) {
		return nil, c.notSent(req, fmt.Errorf("@odata.nextLink %q is not under the Web API root %s", p.NextLink, c.root))
	}
	return c.fetchPage(ctx, req)
}

func (c *Client) fetchPage(ctx context.Context, req *request) (*Page, error) {
	if c.s.pageSize > 0 {
		req.header = http.Header{"Prefer": {"odata.maxpagesize=" + strconv.Itoa(c.s.pageSize)}}
	}
	res, err := c.do(ctx, req)
	if err != nil {
		return nil, err
	}
	var body struct {
		Value    []Record     `json:"value"`
		NextLink string       `json:"@odata.nextLink"`
		Count    *json.Number `json:"@odata.count"`
	}
	if err := decodeJSON(res.body, &body); err != nil {
		return nil, c.badAnswer(req, res, err)
	}
	if body.Value == nil {
		return nil, c.badAnswer(req, res, errors.New(`no "value" array`))
	}
	page := &Page{Records: body.Value, NextLink: body.NextLink, Count: -1}
	if body.Count != nil {
		n, err := body.Count.Int64()
		if err != nil {
			return nil, c.badAnswer(req, res, fmt.Errorf("@odata.count %q: %w", *body.Count, err))
		}
		page.Count = int(n)
	}
	return page, nil
}

// Retrieve reads one record by primary key: GET {entitySet}({id}){query},
// query being e.g. "?$select=fullname,telephone1". A missing record is
// ErrNotFound.
func (c *Client) Retrieve(ctx context.Context, entitySet, id, query string) (Record, error) {
	return c.RetrieveRef(ctx, ByID(entitySet, id), query)
}

// RetrieveRef reads one record by primary or alternate key.
func (c *Client) RetrieveRef(ctx context.Context, ref Ref, query string) (Record, error) {
	req := &request{op: "Retrieve", method: http.MethodGet, idempotent: true}
	path, err := ref.path()
	if err != nil {
		req.url = c.root + ref.EntitySet
		return nil, c.notSent(req, err)
	}
	q, err := c.query(ctx, req, query)
	req.url = c.root + path + q
	if err != nil {
		req.url = c.root + path
		return nil, c.notSent(req, err)
	}
	res, err := c.do(ctx, req)
	if err != nil {
		return nil, err
	}
	var rec Record
	if err := decodeJSON(res.body, &rec); err != nil {
		return nil, c.badAnswer(req, res, err)
	}
	return rec, nil
}

// Create adds a record: POST {entitySet} with body as JSON, and returns the
// new id from the OData-EntityId header. A create is not idempotent, so a
// network failure after sending is returned, not retried, unless ctx comes
// from WithRetrySafe; throttling (429) and 503 are retried, because
// Dataverse refused the request before running it.
func (c *Client) Create(ctx context.Context, entitySet string, body any) (string, error) {
	req := &request{op: "Create", method: http.MethodPost, url: c.root + entitySet}
	if err := checkIdentifier("entitySet", entitySet); err != nil {
		return "", c.notSent(req, err)
	}
	if err := c.setBody(req, body); err != nil {
		return "", err
	}
	res, err := c.do(ctx, req)
	if err != nil {
		return "", err
	}
	id, err := idFromEntityID(res.header.Get("OData-EntityId"))
	if err != nil {
		return "", c.badAnswer(req, res, err)
	}
	return id, nil
}

// CreateAndReturn adds a record and returns it as Dataverse stored it
// (Prefer: return=representation), with the columns query selects, e.g.
// "?$select=subject,activityid". Retries as Create.
func (c *Client) CreateAndReturn(ctx context.Context, entitySet string, body any, query string) (Record, error) {
	req := &request{op: "CreateAndReturn", method: http.MethodPost, url: c.root + entitySet,
		header: http.Header{"Prefer": {"return=representation"}}}
	if err := checkIdentifier("entitySet", entitySet); err != nil {
		return nil, c.notSent(req, err)
	}
	q, err := c.query(ctx, req, query)
	if err != nil {
		return nil, c.notSent(req, err)
	}
	req.url += q
	if err := c.setBody(req, body); err != nil {
		return nil, err
	}
	res, err := c.do(ctx, req)
	if err != nil {
		return nil, err
	}
	var rec Record
	if err := decodeJSON(res.body, &rec); err != nil {
		return nil, c.badAnswer(req, res, err)
	}
	return rec, nil
}

// Update changes columns of an existing record: PATCH with If-Match: *, so
// a missing record is ErrNotFound and never created by accident.
func (c *Client) Update(ctx context.Context, ref Ref, body any) error {
	req := &request{op: "Update", method: http.MethodPatch, idempotent: true,
		header: http.Header{"If-Match": {"*"}}}
	path, err := ref.path()
	if err != nil {
		req.url = c.root + ref.EntitySet
		return c.notSent(req, err)
	}
	req.url = c.root + path
	if err := c.setBody(req, body); err != nil {
		return err
	}
	_, err = c.do(ctx, req)
	return err
}

// Upsert creates or updates the record with an alternate key: PATCH
// {entitySet}({keyColumn}='{keyValue}') without conditional headers. It asks
// for the record back (Prefer: return=representation, $select of the key
// column) because only then does Dataverse tell creation (201) from update
// (200) and give the record's id. Sending the same upsert twice leaves one
// record, so network failures are retried.
func (c *Client) Upsert(ctx context.Context, entitySet, keyColumn, keyValue string, body any) (id string, created bool, err error) {
	res, req, err := c.patchByKey(ctx, "Upsert", ByKey(entitySet, keyColumn, keyValue), body, nil)
	if err != nil {
		return "", false, err
	}
	id, err = c.idFromRepresentation(req, res, entitySet, keyColumn)
	if err != nil {
		return "", false, err
	}
	return id, res.status == http.StatusCreated, nil
}

// CreateOnly creates the record with an alternate key and fails if one
// exists: PATCH {entitySet}({keyColumn}='{keyValue}') with If-None-Match: *.
// An existing record is an *AlreadyExistsError (errors.Is ErrAlreadyExists).
// It is safe to retry: a resent request cannot duplicate, it fails instead,
// and AlreadyExistsError.AfterRetry says when that may be this call's own
// record.
func (c *Client) CreateOnly(ctx context.Context, entitySet, keyColumn, keyValue string, body any) (string, error) {
	ref := ByKey(entitySet, keyColumn, keyValue)
	res, req, err := c.patchByKey(ctx, "CreateOnly", ref, body, http.Header{"If-None-Match": {"*"}})
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Status == http.StatusPreconditionFailed {
			return "", &AlreadyExistsError{Ref: ref, AfterRetry: res != nil && res.ambiguous, Cause: e}
		}
		return "", err
	}
	return c.idFromRepresentation(req, res, entitySet, keyColumn)
}

func (c *Client) patchByKey(ctx context.Context, op string, ref Ref, body any, header http.Header) (*response, *request, error) {
	req := &request{op: op, method: http.MethodPatch, idempotent: true, header: header}
	if req.header == nil {
		req.header = http.Header{}
	}
	req.header.Set("Prefer", "return=representation")
	if ref.KeyColumn == "" {
		req.url = c.root + ref.EntitySet
		return nil, req, c.notSent(req, errors.New("keyColumn: empty; give the alternate key column, e.g. new_agentinteractionid"))
	}
	path, err := ref.path()
	if err != nil {
		req.url = c.root + ref.EntitySet
		return nil, req, c.notSent(req, err)
	}
	req.url = c.root + path + "?$select=" + ref.KeyColumn
	if err := c.setBody(req, body); err != nil {
		return nil, req, err
	}
	res, err := c.do(ctx, req)
	return res, req, err
}

// idFromRepresentation reads the id out of an upsert's returned record.
func (c *Client) idFromRepresentation(req *request, res *response, entitySet, keyColumn string) (string, error) {
	id, err := idFromRecordBody(res.status, res.body, entitySet, keyColumn)
	if err != nil {
		return "", c.badAnswer(req, res, err)
	}
	return id, nil
}

// idFromRecordBody finds the primary key in a record returned with
// Prefer: return=representation. Dataverse always includes the primary
// key, whatever $select says; its name is guessed from the entity set, and
// otherwise it is the one GUID-valued column that is not the alternate key.
func idFromRecordBody(status int, body []byte, entitySet, keyColumn string) (string, error) {
	if status != http.StatusCreated && status != http.StatusOK {
		return "", fmt.Errorf("status %d, expected 201 or 200 for Prefer: return=representation", status)
	}
	var rec Record
	if err := decodeJSON(body, &rec); err != nil {
		return "", err
	}
	if v, ok := rec[primaryIDColumn(entitySet)].(string); ok && isGUID(v) {
		return strings.ToLower(v), nil
	}
	var found []string
	for k, v := range rec {
		s, ok := v.(string)
		if !ok || k == keyColumn || strings.Contains(k, "@") || !isGUID(s) {
			continue
		}
		found = append(found, strings.ToLower(s))
	}
	if len(found) != 1 {
		return "", fmt.Errorf("cannot tell the primary key of %s in the returned record (expected %s)", entitySet, primaryIDColumn(entitySet))
	}
	return found[0], nil
}

// activitySets are the activity tables, whose primary key is activityid.
var activitySets = map[string]bool{
	"activitypointers": true, "appointments": true, "campaignactivities": true,
	"campaignresponses": true, "emails": true, "faxes": true, "letters": true,
	"phonecalls": true, "recurringappointmentmasters": true,
	"serviceappointments": true, "socialactivities": true, "tasks": true,
}

// primaryIDColumn guesses a table's primary key from its entity set name:
// activityid for activities, else the singular logical name plus "id"
// (contacts → contactid, opportunities → opportunityid).
func primaryIDColumn(entitySet string) string {
	if activitySets[entitySet] {
		return "activityid"
	}
	singular := entitySet
	switch {
	case strings.HasSuffix(entitySet, "ies"):
		singular = strings.TrimSuffix(entitySet, "ies") + "y"
	case strings.HasSuffix(entitySet, "sses"), strings.HasSuffix(entitySet, "xes"),
		strings.HasSuffix(entitySet, "ches"), strings.HasSuffix(entitySet, "shes"):
		singular = strings.TrimSuffix(entitySet, "es")
	case strings.HasSuffix(entitySet, "s"):
		singular = strings.TrimSuffix(entitySet, "s")
	}
	return singular + "id"
}

// Delete removes a record. When an earlier attempt of this call failed on
// the network and the resend finds the record gone (404), the first attempt
// is taken to have deleted it and Delete succeeds.
func (c *Client) Delete(ctx context.Context, ref Ref) error {
	req := &request{op: "Delete", method: http.MethodDelete, idempotent: true}
	path, err := ref.path()
	if err != nil {
		req.url = c.root + ref.EntitySet
		return c.notSent(req, err)
	}
	req.url = c.root + path
	res, err := c.do(ctx, req)
	if err != nil && errors.Is(err, ErrNotFound) && res != nil && res.ambiguous {
		return nil
	}
	return err
}

// Status reasons for Complete: the statuscode values of the Completed state
// (statecode 1).
const (
	PhoneCallMade     = 2 // phonecall, outgoing
	PhoneCallReceived = 4 // phonecall, incoming
	TaskCompleted     = 5 // task
)

// completedStatus lists the statuscode values Complete accepts per table.
var completedStatus = map[string][]int{
	"phonecall": {PhoneCallMade, PhoneCallReceived},
	"task":      {TaskCompleted},
}

// Complete marks an activity completed: PATCH {"statecode":1,
// "statuscode":N} with If-Match: *. Dataverse does not allow statecode on
// create, so an activity is created open and completed afterwards; once
// completed it is read-only. entity is the logical name, "phonecall" (N is
// PhoneCallMade or PhoneCallReceived) or "task" (TaskCompleted).
func (c *Client) Complete(ctx context.Context, entity string, ref Ref, statusCode int) error {
	allowed, ok := completedStatus[entity]
	if !ok {
		req := &request{op: "Complete", method: http.MethodPatch, url: c.root + ref.EntitySet}
		return c.notSent(req, fmt.Errorf("entity: %q has no known Completed status; Complete supports phonecall and task", entity))
	}
	valid := false
	for _, s := range allowed {
		valid = valid || s == statusCode
	}
	if !valid {
		req := &request{op: "Complete", method: http.MethodPatch, url: c.root + ref.EntitySet}
		return c.notSent(req, fmt.Errorf("statusCode: %d is not a Completed status of %s (use one of %v)", statusCode, entity, allowed))
	}
	body := map[string]int{"statecode": 1, "statuscode": statusCode}
	err := c.Update(ctx, ref, body)
	var e *Error
	if errors.As(err, &e) {
		e.Op = "Complete"
	}
	return err
}

// query re-encodes a caller's query string for the wire.
func (c *Client) query(ctx context.Context, req *request, raw string) (string, error) {
	q, dropped, err := encodeQuery(raw)
	if err != nil {
		return "", err
	}
	if dropped {
		c.s.logger.DebugContext(ctx, "dataverse: dropped $search, which /api/data does not support", "op", req.op)
	}
	return q, nil
}

// setBody marshals a request body.
func (c *Client) setBody(req *request, body any) error {
	b, err := marshalBody(body)
	if err != nil {
		return c.notSent(req, err)
	}
	req.body = b
	return nil
}

// marshalBody encodes a request body as JSON. A []byte or json.RawMessage
// is taken as JSON already (and checked).
func marshalBody(body any) ([]byte, error) {
	var b []byte
	switch v := body.(type) {
	case []byte:
		b = v
	case json.RawMessage:
		b = v
	default:
		var err error
		if b, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("body: %w", err)
		}
	}
	if !json.Valid(b) {
		return nil, errors.New("body: not valid JSON")
	}
	return b, nil
}

// badAnswer reports a 2xx answer the client cannot use.
func (c *Client) badAnswer(req *request, res *response, err error) *Error {
	return &Error{Op: req.op, Method: req.method, URL: req.url, Status: res.status,
		Message: "unexpected answer: " + err.Error()}
}

// decodeJSON decodes keeping numbers as json.Number.
func decodeJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("decoding JSON: %w", err)
	}
	return nil
}
