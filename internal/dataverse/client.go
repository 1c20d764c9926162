package dataverse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
)

// maxResponseBody bounds what one answer may hold: a full 5,000-record page
// with wide rows stays far below it, a runaway answer does not.
const maxResponseBody = 128 << 20

// userAgent lets Dataverse administrators see which integration is calling.
const userAgent = "ctibridge-dataverse/1"

// Client calls one Dataverse environment's Web API. It is safe for
// concurrent use; share one per environment so the concurrency cap and the
// token cache are shared too.
type Client struct {
	s      settings
	root   string // apiRoot as a string, ending in "/"
	tokens *tokenCache
	// sem holds one slot per request in flight to Dataverse.
	sem chan struct{}

	calls, requests, retries, throttled, tokenRequests atomic.Uint64

	onRequest func(RequestInfo)

	// Seams for tests: waiting, the clock (Retry-After dates, deadlines) and
	// the jitter draw.
	sleep  func(context.Context, time.Duration) error
	now    func() time.Time
	jitter func(time.Duration) time.Duration
}

// New validates cfg and returns a Client. The error names every offending
// field. New makes no network calls; the first token is fetched by the
// first request.
func New(cfg Config) (*Client, error) {
	s, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	if cfg.HTTPClient == nil {
		// Dataverse does not redirect Web API calls; refusing to follow a
		// redirect keeps the token from being replayed anywhere else.
		s.httpClient.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	c := &Client{
		s:         s,
		root:      s.apiRoot.String(),
		sem:       make(chan struct{}, s.maxConcurrency),
		onRequest: cfg.OnRequest,
		sleep:     sleepContext,
		now:       time.Now,
		jitter:    fullJitter,
	}
	if s.auth {
		c.tokens = newTokenCache(s, cfg.ClientID, cfg.ClientSecret, c.observeToken)
	}
	return c, nil
}

// APIRoot is the Web API root the client calls, e.g.
// https://contoso.crm.dynamics.com/api/data/v9.2/.
func (c *Client) APIRoot() string { return c.root }

// Stats are cumulative counters since New.
type Stats struct {
	// Calls counts client operations (Create, Batch, ...) that got as far
	// as sending, however many HTTP requests each needed; requests refused
	// before sending (Error.NotSent) are not counted.
	Calls uint64
	// Requests counts HTTP requests sent to the Web API, retries included;
	// a $batch counts once. Requests/Calls is the load a call costs.
	Requests uint64
	// Retries counts resends after throttling, unavailability, network
	// failures and token refreshes.
	Retries uint64
	// Throttled counts 429 answers.
	Throttled uint64
	// TokenRequests counts requests to the token endpoint.
	TokenRequests uint64
}

// Stats returns the counters so far.
func (c *Client) Stats() Stats {
	return Stats{
		Calls:         c.calls.Load(),
		Requests:      c.requests.Load(),
		Retries:       c.retries.Load(),
		Throttled:     c.throttled.Load(),
		TokenRequests: c.tokenRequests.Load(),
	}
}

// request is one Web API request as the operations describe it.
type request struct {
	op     string
	method string
	url    string // absolute and already encoded
	body   []byte // nil: no body
	// contentType defaults to JSON when there is a body.
	contentType string
	header      http.Header
	// idempotent: resending after an ambiguous network failure cannot do
	// harm (GET, PATCH, DELETE). POST is not, unless the context says so.
	idempotent bool
}

// response is a Web API answer with its body read.
type response struct {
	status int
	header http.Header
	body   []byte
	// ambiguous: an earlier attempt of this call failed after the request
	// may have reached Dataverse, so the answer may reflect this call's own
	// earlier effect (a 404 for a DELETE, a 412 for a create-only PATCH).
	ambiguous bool
}

// do sends req, retrying as the package documentation describes. It returns
// the response for any HTTP answer; err is an *Error for a non-2xx answer or
// a failure, possibly joined with the context's error if the context ended
// while waiting to retry.
func (c *Client) do(ctx context.Context, req *request) (*response, error) {
	c.calls.Add(1)
	var impersonate caller
	if cl, ok := callerFrom(ctx); ok {
		id, err := normalizeGUID(cl.header, cl.id)
		if err != nil {
			return nil, c.notSent(req, err)
		}
		impersonate = caller{header: cl.header, id: id}
	}
	safe := req.idempotent || retrySafe(ctx)
	budget := c.s.maxAttempts
	refreshed := false
	ambiguous := false
	for sends := 1; ; sends++ {
		res, used, failure := c.send(ctx, req, impersonate, sends)
		var last *Error
		var wait time.Duration
		switch {
		case failure != nil:
			failure.Attempts = sends
			if ctx.Err() != nil || !failure.Retryable() {
				return nil, failure
			}
			if !failure.token {
				// The request may have reached Dataverse.
				if !safe {
					return nil, failure
				}
				ambiguous = true
			}
			last, wait = failure, failure.RetryAfter
		case res.status >= 200 && res.status < 300:
			res.ambiguous = ambiguous
			return res, nil
		case res.status == http.StatusUnauthorized && c.tokens != nil && !refreshed:
			// The token may have been revoked or rotated early: fetch a new
			// one and resend once, outside the attempt budget.
			refreshed = true
			budget++
			c.tokens.invalidate(ctx, used)
			c.retries.Add(1)
			c.s.logger.WarnContext(ctx, "dataverse: 401, refreshing the token and resending once",
				"op", req.op, "method", req.method)
			continue
		default:
			last = c.httpError(req, res, sends)
			retry, safeForAll := retryStatus(res.status)
			if !retry || !(safe || safeForAll) {
				res.ambiguous = ambiguous
				return res, last
			}
			wait = last.RetryAfter
		}
		if sends >= budget {
			return res, last
		}
		if wait == 0 {
			wait = backoff(sends, c.s.baseBackoff, c.s.maxBackoff, c.jitter)
		}
		if deadline, ok := ctx.Deadline(); ok && c.now().Add(wait).After(deadline) {
			// Waiting would outlive the caller: hand back the last answer
			// now, with its Retry-After, so the caller can reschedule.
			c.s.logger.WarnContext(ctx, "dataverse: not retrying, the context deadline comes before the retry",
				"op", req.op, "method", req.method, "status", last.Status, "wait", wait)
			return res, last
		}
		c.s.logger.WarnContext(ctx, "dataverse: retrying", "op", req.op, "method", req.method,
			"status", last.Status, "code", last.Code, "attempt", sends, "wait", wait)
		c.retries.Add(1)
		if err := c.sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("dataverse %s: %w while waiting to retry after: %w", req.op, err, last)
		}
	}
}

// send makes one attempt: token, concurrency slot, request, whole body. It
// returns the token used (for a 401 refresh) and either a response or an
// *Error for a network or token failure.
func (c *Client) send(ctx context.Context, req *request, impersonate caller, attempt int) (*response, *oauth2.Token, *Error) {
	var tok *oauth2.Token
	if c.tokens != nil {
		// Fetch the token before taking a slot: a slow token endpoint must
		// not hold Dataverse capacity.
		var err error
		if tok, err = c.tokens.get(ctx); err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
				return nil, nil, &Error{Op: req.op, Method: req.method, URL: req.url, Err: err}
			}
			return nil, nil, tokenError(req.op, c.s.tokenURL, err, c.now())
		}
	}

	hreq, err := http.NewRequestWithContext(ctx, req.method, req.url, bodyReader(req.body))
	if err != nil {
		return nil, nil, c.notSent(req, err)
	}
	h := hreq.Header
	h.Set("Accept", "application/json")
	h.Set("OData-MaxVersion", "4.0")
	h.Set("OData-Version", "4.0")
	h.Set("User-Agent", userAgent)
	if req.body != nil {
		ct := req.contentType
		if ct == "" {
			ct = "application/json; charset=utf-8"
		}
		h.Set("Content-Type", ct)
	}
	if tok != nil {
		tok.SetAuthHeader(hreq)
	}
	if impersonate.header != "" {
		h.Set(impersonate.header, impersonate.id)
	}
	for k, vs := range req.header {
		h[k] = vs
	}

	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, &Error{Op: req.op, Method: req.method, URL: req.url, Err: ctx.Err()}
	}
	start := time.Now()
	res, err := c.roundTrip(hreq)
	<-c.sem
	elapsed := time.Since(start)

	c.requests.Add(1)
	status := 0
	if res != nil {
		status = res.status
		if status == http.StatusTooManyRequests {
			c.throttled.Add(1)
		}
	}
	if c.onRequest != nil {
		c.onRequest(RequestInfo{Op: req.op, Method: req.method, Status: status, Attempt: attempt, Duration: elapsed, Err: err})
	}
	c.s.logger.DebugContext(ctx, "dataverse request", "op", req.op, "method", req.method,
		"path", hreq.URL.Path, "status", status, "attempt", attempt, "duration", elapsed)
	if err != nil {
		return nil, tok, &Error{Op: req.op, Method: req.method, URL: req.url, Err: err}
	}
	return res, tok, nil
}

// roundTrip sends and reads the whole body, so the concurrency slot covers
// the transfer and a connection dropped mid-body counts as a network
// failure.
func (c *Client) roundTrip(hreq *http.Request) (*response, error) {
	hres, err := c.s.httpClient.Do(hreq)
	if err != nil {
		return nil, err
	}
	defer hres.Body.Close()
	body, err := io.ReadAll(io.LimitReader(hres.Body, maxResponseBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading the %d answer: %w", hres.StatusCode, err)
	}
	if len(body) > maxResponseBody {
		return nil, fmt.Errorf("the %d answer is larger than %d bytes", hres.StatusCode, maxResponseBody)
	}
	return &response{status: hres.StatusCode, header: hres.Header, body: body}, nil
}

func bodyReader(b []byte) io.Reader {
	if b == nil {
		return nil
	}
	return bytes.NewReader(b)
}

// httpError decodes a non-2xx answer.
func (c *Client) httpError(req *request, res *response, attempts int) *Error {
	code, message := decodeErrorBody(res.body)
	return &Error{
		Op: req.op, Method: req.method, URL: req.url,
		Status: res.status, Code: code, Message: message,
		RetryAfter: parseRetryAfter(res.header.Get("Retry-After"), c.now()),
		Attempts:   attempts,
	}
}

// notSent reports a request the client refused to send.
func (c *Client) notSent(req *request, err error) *Error {
	return &Error{Op: req.op, Method: req.method, URL: req.url, Message: err.Error(), NotSent: true}
}

// observeToken counts a token request and reports it to the hook. Only the
// status and error are passed on, never the token.
func (c *Client) observeToken(status int, d time.Duration, err error) {
	c.tokenRequests.Add(1)
	if c.onRequest != nil {
		c.onRequest(RequestInfo{Op: "token", Token: true, Method: http.MethodPost, Status: status, Attempt: 1, Duration: d, Err: err})
	}
	if err != nil {
		c.s.logger.Warn("dataverse: token request failed", "status", status, slog.String("error", err.Error()))
	}
}
