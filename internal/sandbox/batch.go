package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
)

// maxBatchRequests is Dataverse's limit of operations in one $batch.
const maxBatchRequests = 1000

// batchPart is one operation of a $batch, parsed from its application/http
// part.
type batchPart struct {
	contentID string
	method    string
	target    string // the request URL as written
	header    http.Header
	body      []byte
}

// batchItem is a top-level item: a single operation or a change set.
type batchItem struct {
	single    *batchPart
	changeSet []*batchPart
}

func (s *Sandbox) serveBatch(ctx context.Context, req *apiRequest) *apiResponse {
	if req.method != http.MethodPost {
		return errorResponse(errMethodNotAllowed(req.method))
	}
	items, err := parseBatch(req.header.Get("Content-Type"), req.body)
	if err != nil {
		return errorResponse(err)
	}
	prefer := parsePrefer(req.header)

	var out bytes.Buffer
	boundary := "batchresponse_" + newGUID()
	status := http.StatusOK
	for _, item := range items {
		if item.single != nil {
			resp := s.runBatchPart(ctx, req, item.single, nil, nil)
			writePart(&out, boundary, "", resp)
			if resp.status >= 400 && !prefer.continueOnError {
				status = resp.status
				break
			}
			continue
		}
		responses, failed, failedID := s.runChangeSet(ctx, req, item.changeSet)
		if failed != nil {
			// A failed change set is answered by the failing operation
			// alone: everything before it was rolled back.
			writePart(&out, boundary, failedID, failed)
			if !prefer.continueOnError {
				status = failed.status
				break
			}
			continue
		}
		csBoundary := "changesetresponse_" + newGUID()
		fmt.Fprintf(&out, "--%s\r\nContent-Type: multipart/mixed; boundary=%s\r\n\r\n", boundary, csBoundary)
		for i, resp := range responses {
			writePart(&out, csBoundary, item.changeSet[i].contentID, resp)
		}
		fmt.Fprintf(&out, "--%s--\r\n", csBoundary)
	}
	fmt.Fprintf(&out, "--%s--\r\n", boundary)
	resp := newResponse(status)
	resp.header.Set("Content-Type", "multipart/mixed; boundary="+boundary)
	resp.body = out.Bytes()
	return resp
}

// writePart writes one application/http response part.
func writePart(w *bytes.Buffer, boundary, contentID string, resp *apiResponse) {
	fmt.Fprintf(w, "--%s\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n", boundary)
	if contentID != "" {
		fmt.Fprintf(w, "Content-ID: %s\r\n", contentID)
	}
	fmt.Fprintf(w, "\r\nHTTP/1.1 %d %s\r\n", resp.status, http.StatusText(resp.status))
	for _, k := range sortedKeys(resp.header) {
		for _, v := range resp.header[k] {
			fmt.Fprintf(w, "%s: %s\r\n", wireHeaderName(k), v)
		}
	}
	w.WriteString("\r\n")
	if resp.status != http.StatusNoContent && resp.status != http.StatusNotModified {
		w.Write(resp.body)
	}
	w.WriteString("\r\n")
}

// runChangeSet runs a change set in one transaction: all operations or
// none. It returns the responses, or the failing operation's response and
// Content-ID.
func (s *Sandbox) runChangeSet(ctx context.Context, req *apiRequest, parts []*batchPart) ([]*apiResponse, *apiResponse, string) {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return nil, errorResponse(fmt.Errorf("sandbox: starting change set: %w", err)), ""
	}
	db := &dbConn{s: s, tx: tx}
	ids := map[string]string{}
	resolve := func(ref string) (string, bool) {
		name := strings.TrimPrefix(ref, "$")
		v, ok := ids[name]
		return v, ok
	}
	var responses []*apiResponse
	for _, part := range parts {
		if part.method == http.MethodGet {
			tx.Rollback()
			return nil, errorResponse(errQuery("GET requests are not allowed in a change set; move the GET outside the change set.")), part.contentID
		}
		resp := s.runBatchPart(ctx, req, part, db, resolve)
		if resp.status >= 400 {
			tx.Rollback()
			return nil, resp, part.contentID
		}
		if part.contentID != "" {
			if loc := resp.header.Get("OData-EntityId"); loc != "" {
				if i := strings.Index(loc, apiPrefix); i >= 0 {
					loc = loc[i+len(apiPrefix):]
				}
				ids[part.contentID] = loc
			}
		}
		responses = append(responses, resp)
	}
	if err := tx.Commit(); err != nil {
		return nil, errorResponse(fmt.Errorf("sandbox: committing change set: %w", err)), ""
	}
	return responses, nil, ""
}

// runBatchPart executes one operation of a batch.
func (s *Sandbox) runBatchPart(ctx context.Context, outer *apiRequest, part *batchPart, db *dbConn, resolve refResolver) *apiResponse {
	target := part.target
	if i := strings.Index(target, apiPrefix); i >= 0 {
		target = target[i+len(apiPrefix):]
	}
	target = strings.TrimPrefix(target, "/")
	if strings.HasPrefix(target, "$") && target != "$batch" && !strings.HasPrefix(target, "$metadata") {
		ref, rest, _ := strings.Cut(target, "/")
		if resolve == nil {
			return errorResponse(newError(http.StatusBadRequest, codeQuery, "Content-ID Reference: '%s' can only be used inside the change set that declares it.", ref))
		}
		entity, ok := resolve(ref)
		if !ok {
			return errorResponse(newError(http.StatusBadRequest, codeQuery, "Content-ID Reference: '%s' does not exist in the batch context.", ref))
		}
		target = entity
		if rest != "" {
			target += "/" + rest
		}
	}
	u, err := url.Parse(strings.ReplaceAll(target, " ", "%20"))
	if err != nil {
		return errorResponse(errQuery("The batch request URL '%s' is not valid: %v", part.target, err))
	}
	path := u.Path
	setName := path
	if i := strings.IndexAny(setName, "(/"); i >= 0 {
		setName = setName[:i]
	}
	s.stats.count(part.method, setName, true)
	header := part.header
	// The batch's caller (token, impersonation) applies to every operation
	// unless the operation impersonates someone itself.
	callerID := outer.callerID
	if part.header.Get("MSCRMCallerID") != "" || part.header.Get("CallerObjectId") != "" {
		callerID, err = s.impersonate(ctx, part.header, callerID)
		if err != nil {
			return errorResponse(err)
		}
	}
	query, err := parseQueryString(u.RawQuery)
	if err != nil {
		return errorResponse(err)
	}
	req := &apiRequest{
		method:   part.method,
		path:     path,
		query:    query,
		rawQuery: u.RawQuery,
		header:   header,
		body:     part.body,
		base:     outer.base,
		callerID: callerID,
		authUser: outer.authUser,
		db:       db,
		resolve:  resolve,
		inBatch:  true,
	}
	return s.execute(ctx, req)
}

// parseBatch reads a multipart/mixed $batch body into its items.
func parseBatch(contentType string, body []byte) ([]batchItem, error) {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil || mediaType != "multipart/mixed" || params["boundary"] == "" {
		return nil, errQuery("A $batch request needs Content-Type: multipart/mixed; boundary=batch_<id> (got '%s').", contentType)
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	var items []batchItem
	count := 0
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, errQuery("The $batch body is not valid multipart/mixed: %v", err)
		}
		ct, cparams, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		switch ct {
		case "application/http":
			part, err := parseHTTPPart(p)
			if err != nil {
				return nil, err
			}
			items = append(items, batchItem{single: part})
			count++
		case "multipart/mixed":
			if cparams["boundary"] == "" {
				return nil, errQuery("A change set needs Content-Type: multipart/mixed; boundary=changeset_<id>.")
			}
			cr := multipart.NewReader(p, cparams["boundary"])
			var parts []*batchPart
			for {
				cp, err := cr.NextPart()
				if err == io.EOF {
					break
				}
				if err != nil {
					return nil, errQuery("The change set is not valid multipart/mixed: %v", err)
				}
				if t, _, _ := mime.ParseMediaType(cp.Header.Get("Content-Type")); t != "application/http" {
					return nil, errQuery("Change set parts must be Content-Type: application/http, got '%s'.", cp.Header.Get("Content-Type"))
				}
				part, err := parseHTTPPart(cp)
				if err != nil {
					return nil, err
				}
				parts = append(parts, part)
				count++
			}
			items = append(items, batchItem{changeSet: parts})
		default:
			return nil, errQuery("A $batch part must be application/http or a multipart/mixed change set, got '%s'.", p.Header.Get("Content-Type"))
		}
		if count > maxBatchRequests {
			return nil, errQuery("The batch holds more than %d requests; split it into several $batch requests.", maxBatchRequests)
		}
	}
	if len(items) == 0 {
		return nil, errQuery("The $batch request holds no operations.")
	}
	return items, nil
}

// parseHTTPPart reads "METHOD URL HTTP/1.1", headers, a blank line and the
// body from an application/http part. Parts often carry no Content-Length,
// so the body is the rest of the part.
func parseHTTPPart(p *multipart.Part) (*batchPart, error) {
	br := bufio.NewReader(p)
	tp := textproto.NewReader(br)
	line, err := tp.ReadLine()
	for err == nil && strings.TrimSpace(line) == "" {
		line, err = tp.ReadLine()
	}
	if err != nil {
		return nil, errQuery("A $batch part has no request line: %v", err)
	}
	// OData's batch reader takes the method up to the first space, the
	// version after the last, and the URL as everything between: clients
	// (@odata/client) write a query's spaces raw there.
	line = strings.TrimSpace(line)
	first, last := strings.IndexByte(line, ' '), strings.LastIndexByte(line, ' ')
	if first < 0 || last == first || !strings.HasPrefix(line[last+1:], "HTTP/") || strings.TrimSpace(line[first:last]) == "" {
		return nil, errQuery("The $batch request line '%s' must be 'METHOD URL HTTP/1.1'.", line)
	}
	fields := []string{line[:first], strings.TrimSpace(line[first:last])}
	mh, err := tp.ReadMIMEHeader()
	if err != nil && err != io.EOF {
		return nil, errQuery("The headers of the $batch request '%s' are not valid: %v", line, err)
	}
	body, err := io.ReadAll(br)
	if err != nil {
		return nil, errQuery("Reading the body of the $batch request '%s' failed: %v", line, err)
	}
	return &batchPart{
		contentID: strings.TrimSpace(p.Header.Get("Content-ID")),
		method:    strings.ToUpper(fields[0]),
		target:    fields[1],
		header:    http.Header(mh),
		body:      bytes.TrimSpace(body),
	}, nil
}
