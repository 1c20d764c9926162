package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// maxBodyBytes bounds a request body; Dataverse refuses larger requests
// with 413 as well.
const maxBodyBytes = 32 << 20

// apiRequest is one Web API operation, from the wire or from a $batch part.
type apiRequest struct {
	method   string
	path     string // decoded, after /api/data/v9.2/
	query    url.Values
	rawQuery string
	header   http.Header
	body     []byte
	base     string // scheme://host/api/data/v9.2/
	callerID string
	// authUser is the authenticated user (the token's), which callerID
	// differs from when the request impersonates.
	authUser string
	// db is the change set's transaction inside a $batch change set.
	db *dbConn
	// resolve maps $n Content-ID references inside a change set.
	resolve refResolver
	inBatch bool
}

// apiResponse is the answer to an apiRequest.
type apiResponse struct {
	status int
	header http.Header
	body   []byte
}

func newResponse(status int) *apiResponse {
	h := http.Header{}
	h.Set("OData-Version", "4.0")
	return &apiResponse{status: status, header: h}
}

func jsonResponse(status int, v any) (*apiResponse, error) {
	body, err := marshalJSON(v)
	if err != nil {
		return nil, fmt.Errorf("sandbox: encoding response: %w", err)
	}
	resp := newResponse(status)
	resp.header.Set("Content-Type", "application/json; odata.metadata=minimal")
	resp.body = body
	return resp, nil
}

func errorResponse(err error) *apiResponse {
	var ae *apiError
	if !errors.As(err, &ae) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			ae = newError(http.StatusServiceUnavailable, codeUnspecified, "The request was canceled before it completed.")
		} else {
			// The cause (often SQLite's text) is logged by execute, not sent:
			// Dataverse does not show a client its database's errors.
			ae = newError(http.StatusInternalServerError, codeUnspecified, "An unexpected error occurred.")
		}
	}
	body, _ := marshalJSON(orderedObject{{"error", orderedObject{{"code", ae.Code}, {"message", ae.Message}}}})
	resp := newResponse(ae.Status)
	for k, v := range ae.Header {
		resp.header[k] = v
	}
	resp.header.Set("Content-Type", "application/json; odata.metadata=minimal")
	resp.body = body
	return resp
}

// Handler serves the Web API under /api/data/v9.2/, the OAuth2 token
// endpoint at /{tenant}/oauth2/v2.0/token, and the admin endpoints
// /_sandbox/faults and /_sandbox/stats.
func (s *Sandbox) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

func (s *Sandbox) serveHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case strings.HasPrefix(path, apiPrefix) || path == strings.TrimSuffix(apiPrefix, "/"):
		s.serveAPI(w, r)
	case strings.HasSuffix(path, "/oauth2/v2.0/token") && strings.Count(path, "/") == 4:
		s.stats.count("POST", "token", false)
		s.auth.serveToken(w, r)
	case path == "/_sandbox/faults" || path == "/_sandbox/stats":
		// The admin endpoints can break (faults) or observe (stats) every
		// client's traffic, so they take the same token as the Web API.
		if _, err := s.authenticate(r); err != nil {
			writeResponse(w, errorResponse(err))
			return
		}
		if path == "/_sandbox/faults" {
			s.serveFaults(w, r)
		} else {
			s.serveStats(w, r)
		}
	default:
		writeResponse(w, errorResponse(newError(http.StatusNotFound, codeQuery, "No Web API resource at '%s'; the Web API is under %s.", path, apiPrefix)))
	}
}

// baseURL is the service root as the client addressed it.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
		scheme = p
	}
	return scheme + "://" + r.Host + apiPrefix
}

func (s *Sandbox) serveAPI(w http.ResponseWriter, r *http.Request) {
	rel := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, strings.TrimSuffix(apiPrefix, "/")), "/")
	setName := rel
	if i := strings.IndexAny(setName, "(/"); i >= 0 {
		setName = setName[:i]
	}
	s.stats.count(r.Method, setName, false)

	if err := s.faults.delay(r.Context(), r.Method, setName); err != nil {
		return
	}
	callerID, err := s.authenticate(r)
	if err != nil {
		writeResponse(w, errorResponse(err))
		return
	}
	if s.faults.inject(w, r, setName, s.stats) {
		return
	}
	authenticated := callerID
	callerID, err = s.impersonate(r.Context(), r.Header, callerID)
	if err != nil {
		writeResponse(w, errorResponse(err))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		writeResponse(w, errorResponse(newError(http.StatusBadRequest, codePayload, "Reading the request body failed: %v", err)))
		return
	}
	if len(body) > maxBodyBytes {
		writeResponse(w, errorResponse(newError(http.StatusRequestEntityTooLarge, codePayload, "The request body is larger than %d bytes.", maxBodyBytes)))
		return
	}
	query, err := parseQueryString(r.URL.RawQuery)
	if err != nil {
		writeResponse(w, errorResponse(err))
		return
	}
	req := &apiRequest{
		method:   r.Method,
		path:     rel,
		query:    query,
		rawQuery: r.URL.RawQuery,
		header:   r.Header,
		body:     body,
		base:     baseURL(r),
		callerID: callerID,
		authUser: authenticated,
	}
	if rel == "$batch" {
		writeResponse(w, s.serveBatch(r.Context(), req))
		return
	}
	writeResponse(w, s.execute(r.Context(), req))
}

// dataverseHeaderNames are the header names Dataverse spells in mixed
// case. Go stores header names canonicalised (Odata-Entityid); the wire
// gets Dataverse's spelling, which case-sensitive parsers (some $batch
// readers) look for.
var dataverseHeaderNames = map[string]string{
	"Odata-Entityid":   "OData-EntityId",
	"Odata-Version":    "OData-Version",
	"Odata-Maxversion": "OData-MaxVersion",
}

func wireHeaderName(k string) string {
	if name, ok := dataverseHeaderNames[k]; ok {
		return name
	}
	return k
}

func writeResponse(w http.ResponseWriter, resp *apiResponse) {
	for k, v := range resp.header {
		// A non-canonical key in the map is written as it is spelled.
		w.Header()[wireHeaderName(k)] = v
	}
	if len(resp.body) > 0 {
		w.Header().Set("Content-Length", strconv.Itoa(len(resp.body)))
	}
	w.WriteHeader(resp.status)
	if len(resp.body) > 0 && resp.status != http.StatusNoContent && resp.status != http.StatusNotModified {
		_, _ = w.Write(resp.body)
	}
}

// execute runs one operation and turns failures into error responses.
func (s *Sandbox) execute(ctx context.Context, req *apiRequest) *apiResponse {
	resp, err := s.route(ctx, req)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) && ctx.Err() == nil {
			s.log.Error("sandbox: internal error", "method", req.method, "path", req.path, "err", err)
		}
		return errorResponse(err)
	}
	return resp
}

// preferences are the parsed Prefer header values.
type preferences struct {
	representation  bool
	maxPageSize     int
	annotations     string
	continueOnError bool
}

func parsePrefer(h http.Header) preferences {
	var p preferences
	for _, line := range h.Values("Prefer") {
		parts := splitTopLevelQuoted(line)
		for _, part := range parts {
			part = strings.TrimSpace(part)
			name, value, _ := strings.Cut(part, "=")
			name = strings.ToLower(strings.TrimSpace(name))
			value = strings.Trim(strings.TrimSpace(value), `"`)
			switch name {
			case "return":
				p.representation = value == "representation"
			case "odata.maxpagesize":
				if n, err := strconv.Atoi(value); err == nil && n > 0 {
					p.maxPageSize = n
				}
			case "odata.include-annotations":
				p.annotations = value
			case "odata.continue-on-error":
				p.continueOnError = true
			}
		}
	}
	return p
}

// splitTopLevelQuoted splits a Prefer header on commas outside double
// quotes (include-annotations values contain commas).
func splitTopLevelQuoted(s string) []string {
	var out []string
	inQuote := false
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			inQuote = !inQuote
		case ',':
			if !inQuote {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func (p preferences) annotationFilter() annotationFilter {
	if p.annotations == "" {
		return annotationFilter{}
	}
	var pats []string
	for _, x := range strings.Split(p.annotations, ",") {
		if x = strings.TrimSpace(x); x != "" {
			pats = append(pats, x)
		}
	}
	return annotationFilter{patterns: pats}
}

func (s *Sandbox) readConn(req *apiRequest) dbConn {
	if req.db != nil {
		return *req.db
	}
	return dbConn{s: s}
}

// write runs fn in the change set's transaction or in a new one.
func (s *Sandbox) write(ctx context.Context, req *apiRequest, fn func(dbConn) error) error {
	if req.db != nil {
		return fn(*req.db)
	}
	return s.inTx(ctx, fn)
}

// target is a keyed record address: by primary key or alternate key.
type target struct {
	t        *table
	id       string
	altValue string
}

func (tg target) load(ctx context.Context, s *Sandbox, db dbConn) (record, error) {
	if tg.altValue != "" {
		return s.getByAltKey(ctx, db, tg.t, tg.altValue)
	}
	return s.getByID(ctx, db, tg.t, tg.id)
}

func (tg target) notFound() error {
	if tg.altValue != "" {
		return errKeyNotFound(tg.t, tg.altValue)
	}
	return errRecordNotFound(tg.t, tg.id)
}

func (s *Sandbox) parseTarget(t *table, key string) (target, error) {
	var br bindRef
	if err := s.resolveKey(t, key, &br); err != nil {
		return target{}, err
	}
	if br.keyCol != nil {
		if br.keyValue == "" {
			return target{}, errQuery("The alternate key value of %s cannot be empty.", br.keyCol.name)
		}
		return target{t: t, altValue: br.keyValue}, nil
	}
	return target{t: t, id: br.id}, nil
}

func (s *Sandbox) route(ctx context.Context, req *apiRequest) (*apiResponse, error) {
	segs, err := splitPath(req.path)
	if err != nil {
		return nil, errQuery("Bad resource path '%s': %v", req.path, err)
	}
	if len(segs) == 0 {
		if req.method != http.MethodGet {
			return nil, errMethodNotAllowed(req.method)
		}
		return s.serviceDocument(req)
	}
	for _, seg := range segs[1:] {
		if seg.name == "$ref" {
			return nil, newError(http.StatusNotImplemented, codeQuery, "The sandbox does not support $ref (associate and disassociate); set a single-valued navigation property with <name>@odata.bind in a PATCH, or null to clear it (docs/sandbox.md).")
		}
	}
	first := segs[0]
	switch first.name {
	case "$batch":
		return nil, errQuery("A $batch request cannot contain another $batch request.")
	case "$metadata":
		return nil, newError(http.StatusNotImplemented, codeQuery, "The sandbox does not serve $metadata; see docs/sandbox.md for the tables and columns it supports.")
	case "EntityDefinitions":
		return s.serveMetadata(ctx, req, segs)
	case "WhoAmI":
		if req.method != http.MethodGet {
			return nil, errMethodNotAllowed(req.method)
		}
		if len(segs) != 1 || (first.hasKey && first.key != "") {
			return nil, errSegmentNotFound(req.path)
		}
		return jsonResponse(http.StatusOK, orderedObject{
			{"@odata.context", req.base + "$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse"},
			{"BusinessUnitId", businessUnitID},
			{"UserId", req.callerID},
			{"OrganizationId", organizationID},
		})
	}
	t := s.sch().bySet[first.name]
	if t == nil {
		return nil, errSegmentNotFound(first.name)
	}
	if !first.hasKey {
		switch {
		case len(segs) == 1:
			switch req.method {
			case http.MethodGet:
				q, err := s.parseQueryOptions(t, req.query, false)
				if err != nil {
					return nil, err
				}
				return s.serveList(ctx, req, t, q, "", nil, t.set)
			case http.MethodPost:
				return s.serveCreate(ctx, req, t)
			}
			return nil, errMethodNotAllowed(req.method)
		case len(segs) == 2 && segs[1].name == "$count" && !segs[1].hasKey:
			if req.method != http.MethodGet {
				return nil, errMethodNotAllowed(req.method)
			}
			return s.serveCount(ctx, req, t)
		}
		return nil, errSegmentNotFound(segs[1].name)
	}
	tg, err := s.parseTarget(t, first.key)
	if err != nil {
		return nil, err
	}
	if len(segs) == 1 {
		switch req.method {
		case http.MethodGet:
			return s.serveRetrieve(ctx, req, tg)
		case http.MethodPatch:
			return s.servePatch(ctx, req, tg)
		case http.MethodDelete:
			return s.serveDelete(ctx, req, tg)
		}
		return nil, errMethodNotAllowed(req.method)
	}
	if len(segs) > 2 || segs[1].hasKey {
		return nil, errSegmentNotFound(segs[len(segs)-1].name)
	}
	name := segs[1].name
	if coll, ok := t.collections[name]; ok {
		if req.method != http.MethodGet {
			return nil, errMethodNotAllowed(req.method)
		}
		parent, err := tg.load(ctx, s, s.readConn(req))
		if err != nil {
			return nil, err
		}
		if parent == nil {
			return nil, tg.notFound()
		}
		child := s.sch().table(coll.child)
		q, err := s.parseQueryOptions(child, req.query, false)
		if err != nil {
			return nil, err
		}
		return s.serveList(ctx, req, child, q, "t0."+quoteIdent(coll.lookup.name)+" = ?", []any{parent.id(t)}, child.set)
	}
	if c := t.column(name); c != nil && (c.kind != kindLookup || name == c.jsonName()) {
		return s.serveProperty(ctx, req, tg, c)
	}
	return nil, errSegmentNotFound(name)
}

func (s *Sandbox) serviceDocument(req *apiRequest) (*apiResponse, error) {
	var sets []orderedObject
	for _, t := range s.sch().tables {
		sets = append(sets, orderedObject{{"name", t.set}, {"kind", "EntitySet"}, {"url", t.set}})
	}
	return jsonResponse(http.StatusOK, orderedObject{{"@odata.context", req.base + "$metadata"}, {"value", sets}})
}

// pathEscapeToken escapes a $skiptoken the way Dataverse writes it in
// @odata.nextLink: spaces, quotes, angle brackets and percent signs
// encoded, '=' and '/' kept.
func pathEscapeToken(v string) string {
	r := strings.NewReplacer("+", "%20", "%3D", "=", "%2F", "/")
	return r.Replace(url.QueryEscape(v))
}

func (s *Sandbox) serveList(ctx context.Context, req *apiRequest, t *table, q *queryOptions, extra string, extraArgs []any, path string) (*apiResponse, error) {
	prefer := parsePrefer(req.header)
	db := s.readConn(req)
	pageSize := maxPageSize
	resp := newResponse(http.StatusOK)
	var applied []string
	if prefer.maxPageSize > 0 {
		pageSize = min(prefer.maxPageSize, maxPageSize)
		applied = append(applied, fmt.Sprintf("odata.maxpagesize=%d", pageSize))
	}
	limit := pageSize
	paging := true
	// $top limits the result and turns paging off; with maxpagesize it is
	// ignored, as Dataverse documents.
	if q.hasTop && prefer.maxPageSize == 0 {
		limit = min(q.top, maxPageSize)
		paging = false
	}
	offset := (q.page - 1) * pageSize
	rows, err := s.fetch(ctx, db, t, q, "t0", extra, extraArgs, limit+1, offset)
	if err != nil {
		return nil, err
	}
	more := paging && len(rows) > limit
	if len(rows) > limit {
		rows = rows[:limit]
	}
	r := &renderer{s: s, ctx: ctx, db: db, ann: prefer.annotationFilter(), names: map[lookupRef]string{}}
	if prefer.annotations != "" {
		applied = append(applied, fmt.Sprintf("odata.include-annotations=%q", prefer.annotations))
	}
	values := make([]orderedObject, 0, len(rows))
	for _, rec := range rows {
		obj, err := r.render(t, rec, q)
		if err != nil {
			return nil, err
		}
		values = append(values, obj)
	}
	out := orderedObject{{"@odata.context", req.base + "$metadata#" + t.set + contextSelect(q)}}
	if q.count {
		n, err := s.countRowsWith(ctx, db, t, q, extra, extraArgs)
		if err != nil {
			return nil, err
		}
		out = append(out, field{"@odata.count", min(n, maxCount)})
		if n > maxCount {
			out = append(out, field{"@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded", true})
		}
	}
	out = append(out, field{"value", values})
	if more {
		first, last := rows[0].id(t), rows[len(rows)-1].id(t)
		var kept []string
		for _, part := range strings.Split(req.rawQuery, "&") {
			if part == "" || strings.HasPrefix(part, "$skiptoken=") || strings.HasPrefix(part, "%24skiptoken=") {
				continue
			}
			kept = append(kept, part)
		}
		kept = append(kept, "$skiptoken="+pathEscapeToken(skipToken(t, q.page, first, last)))
		out = append(out, field{"@odata.nextLink", req.base + req.path + "?" + strings.Join(kept, "&")})
	}
	if len(applied) > 0 {
		resp.header.Set("Preference-Applied", strings.Join(applied, ","))
	}
	jr, err := jsonResponse(http.StatusOK, out)
	if err != nil {
		return nil, err
	}
	for k, v := range resp.header {
		jr.header[k] = v
	}
	return jr, nil
}

func (s *Sandbox) countRowsWith(ctx context.Context, db dbConn, t *table, q *queryOptions, extra string, extraArgs []any) (int, error) {
	if extra == "" {
		return s.countRows(ctx, db, t, q)
	}
	where := extra
	args := append([]any{}, extraArgs...)
	if q.where != "" {
		where += " AND " + q.where
		args = append(args, q.args...)
	}
	return s.countRows(ctx, db, t, &queryOptions{where: where, args: args})
}

func (s *Sandbox) serveCount(ctx context.Context, req *apiRequest, t *table) (*apiResponse, error) {
	q, err := s.parseQueryOptions(t, req.query, false)
	if err != nil {
		return nil, err
	}
	n, err := s.countRows(ctx, s.readConn(req), t, q)
	if err != nil {
		return nil, err
	}
	resp := newResponse(http.StatusOK)
	resp.header.Set("Content-Type", "text/plain")
	resp.body = []byte(strconv.Itoa(min(n, maxCount)))
	return resp, nil
}

func (s *Sandbox) serveRetrieve(ctx context.Context, req *apiRequest, tg target) (*apiResponse, error) {
	q, err := s.parseQueryOptions(tg.t, req.query, true)
	if err != nil {
		return nil, err
	}
	db := s.readConn(req)
	rec, err := tg.load(ctx, s, db)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, tg.notFound()
	}
	if inm := req.header.Get("If-None-Match"); inm != "" && inm != "null" && len(q.expands) == 0 && etagMatches(inm, rec) {
		return newResponse(http.StatusNotModified), nil
	}
	return s.representation(ctx, req, db, tg.t, rec, q, http.StatusOK)
}

// representation renders one record as a response body.
func (s *Sandbox) representation(ctx context.Context, req *apiRequest, db dbConn, t *table, rec record, q *queryOptions, status int) (*apiResponse, error) {
	prefer := parsePrefer(req.header)
	r := &renderer{s: s, ctx: ctx, db: db, ann: prefer.annotationFilter(), names: map[lookupRef]string{}}
	obj, err := r.render(t, rec, q)
	if err != nil {
		return nil, err
	}
	out := append(orderedObject{{"@odata.context", req.base + "$metadata#" + t.set + contextSelect(q) + "/$entity"}}, obj...)
	resp, err := jsonResponse(status, out)
	if err != nil {
		return nil, err
	}
	if prefer.annotations != "" {
		resp.header.Add("Preference-Applied", fmt.Sprintf("odata.include-annotations=%q", prefer.annotations))
	}
	return resp, nil
}

// etagMatches compares an If-Match/If-None-Match value with a record.
func etagMatches(header string, rec record) bool {
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || tag == rec.etag() || strings.TrimPrefix(tag, "W/") == strings.TrimPrefix(rec.etag(), "W/") {
			return true
		}
	}
	return false
}

func (s *Sandbox) entityID(req *apiRequest, t *table, rec record) string {
	return req.base + t.set + "(" + rec.id(t) + ")"
}

func (s *Sandbox) serveCreate(ctx context.Context, req *apiRequest, t *table) (*apiResponse, error) {
	ch, err := s.parsePayload(t, req.body, true, req.resolve)
	if err != nil {
		return nil, err
	}
	prefer := parsePrefer(req.header)
	var q *queryOptions
	if prefer.representation {
		if q, err = s.parseQueryOptions(t, req.query, true); err != nil {
			return nil, err
		}
	}
	var resp *apiResponse
	err = s.write(ctx, req, func(db dbConn) error {
		rec, err := s.create(ctx, db, t, ch, req.actor(), "", "")
		if err != nil {
			return err
		}
		resp, err = s.writeResult(ctx, req, db, t, rec, q, prefer, http.StatusCreated)
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// writeResult is the answer to a successful create or update: 204 with
// OData-EntityId, or the record with Prefer: return=representation.
func (s *Sandbox) writeResult(ctx context.Context, req *apiRequest, db dbConn, t *table, rec record, q *queryOptions, prefer preferences, representationStatus int) (*apiResponse, error) {
	var resp *apiResponse
	if prefer.representation {
		var err error
		resp, err = s.representation(ctx, req, db, t, rec, q, representationStatus)
		if err != nil {
			return nil, err
		}
		resp.header.Add("Preference-Applied", "return=representation")
	} else {
		resp = newResponse(http.StatusNoContent)
	}
	resp.header.Set("OData-EntityId", s.entityID(req, t, rec))
	if req.inBatch {
		resp.header.Set("Location", s.entityID(req, t, rec))
	}
	return resp, nil
}

func (s *Sandbox) servePatch(ctx context.Context, req *apiRequest, tg target) (*apiResponse, error) {
	prefer := parsePrefer(req.header)
	var q *queryOptions
	var err error
	if prefer.representation {
		if q, err = s.parseQueryOptions(tg.t, req.query, true); err != nil {
			return nil, err
		}
	}
	ifMatch := strings.TrimSpace(req.header.Get("If-Match"))
	ifNoneMatch := strings.TrimSpace(req.header.Get("If-None-Match"))
	var resp *apiResponse
	err = s.write(ctx, req, func(db dbConn) error {
		existing, err := tg.load(ctx, s, db)
		if err != nil {
			return err
		}
		create := existing == nil
		switch {
		case ifMatch != "":
			// Update only: no upsert, and the ETag must match unless "*".
			if existing == nil {
				return tg.notFound()
			}
			if !etagMatches(ifMatch, existing) {
				return errConcurrency()
			}
		case ifNoneMatch == "*":
			// Create only.
			if existing != nil {
				return errDuplicateKey()
			}
		}
		ch, err := s.parsePayload(tg.t, req.body, create, req.resolve)
		if err != nil {
			return err
		}
		var rec record
		if create {
			rec, err = s.create(ctx, db, tg.t, ch, req.actor(), tg.id, tg.altValue)
		} else {
			rec, err = s.modify(ctx, db, tg.t, existing, ch, req.actor())
		}
		if err != nil {
			return err
		}
		status := http.StatusOK
		if create {
			status = http.StatusCreated
		}
		resp, err = s.writeResult(ctx, req, db, tg.t, rec, q, prefer, status)
		if err == nil && tg.altValue != "" {
			// A write addressed by alternate key answers with the key form
			// (docs/dataverse.md: "Upsert and the id"), which holds no id.
			keyForm := req.base + tg.t.set + "(" + tg.t.altKey.name + "='" + url.PathEscape(strings.ReplaceAll(tg.altValue, "'", "''")) + "')"
			resp.header.Set("OData-EntityId", keyForm)
			if req.inBatch {
				resp.header.Set("Location", keyForm)
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

func (s *Sandbox) serveDelete(ctx context.Context, req *apiRequest, tg target) (*apiResponse, error) {
	ifMatch := strings.TrimSpace(req.header.Get("If-Match"))
	err := s.write(ctx, req, func(db dbConn) error {
		rec, err := tg.load(ctx, s, db)
		if err != nil {
			return err
		}
		if rec == nil {
			return tg.notFound()
		}
		if ifMatch != "" && !etagMatches(ifMatch, rec) {
			return errConcurrency()
		}
		return s.remove(ctx, db, tg.t, rec)
	})
	if err != nil {
		return nil, err
	}
	return newResponse(http.StatusNoContent), nil
}

// serveProperty reads (GET), sets (PUT {"value": ...}) or clears (DELETE)
// a single column of a record.
func (s *Sandbox) serveProperty(ctx context.Context, req *apiRequest, tg target, c *column) (*apiResponse, error) {
	switch req.method {
	case http.MethodGet:
		rec, err := tg.load(ctx, s, s.readConn(req))
		if err != nil {
			return nil, err
		}
		if rec == nil {
			return nil, tg.notFound()
		}
		v := rec[c.name]
		if ref, ok := v.(lookupRef); ok {
			v = ref.ID
		}
		if v == nil {
			return newResponse(http.StatusNoContent), nil
		}
		return jsonResponse(http.StatusOK, orderedObject{
			{"@odata.context", req.base + "$metadata#" + tg.t.set + "(" + rec.id(tg.t) + ")/" + c.jsonName()},
			{"value", v},
		})
	case http.MethodPut, http.MethodDelete:
		if c.kind == kindLookup {
			return nil, newError(http.StatusBadRequest, codeQuery, "CRM do not support direct update of Entity Reference properties, Use Navigation properties instead.")
		}
		var value any
		if req.method == http.MethodPut {
			obj, err := decodeObject(req.body)
			if err != nil {
				return nil, errPayload(tg.t, "%s", err)
			}
			v, ok := obj["value"]
			if !ok || len(obj) != 1 {
				return nil, errPayload(tg.t, "A property update takes a body of the form {\"value\": ...}.")
			}
			value = v
		}
		body, _ := json.Marshal(map[string]any{c.name: value})
		err := s.write(ctx, req, func(db dbConn) error {
			existing, err := tg.load(ctx, s, db)
			if err != nil {
				return err
			}
			if existing == nil {
				return tg.notFound()
			}
			ch, err := s.parseObjectBytes(tg.t, body)
			if err != nil {
				return err
			}
			_, err = s.modify(ctx, db, tg.t, existing, ch, req.actor())
			return err
		})
		if err != nil {
			return nil, err
		}
		return newResponse(http.StatusNoContent), nil
	}
	return nil, errMethodNotAllowed(req.method)
}

func (s *Sandbox) parseObjectBytes(t *table, body []byte) (*change, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, errPayload(t, "%v", err)
	}
	return s.parseObject(t, obj, false, nil)
}

// actor is who the request writes as.
func (req *apiRequest) actor() actor { return actor{user: req.callerID, onBehalfBy: req.authUser} }
