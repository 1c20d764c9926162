package telephony

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/internal/interaction"
	"github.com/ctibridge/ctibridge/internal/testclock"
)

var (
	testNow       = time.Date(2025, 3, 4, 9, 15, 2, 0, time.UTC)
	testSecret    = []byte("whsec-current-9c1f5b2e7a4d48e0b3f6a1c2d7e8f90a")
	testOldSecret = []byte("whsec-previous-4e2a9d7c1b0f43a8a6e5d3c2b1a09f8e")
)

// recordingSink records what it is given; refuse, when set, may refuse the
// n-th event (0-based, counting refused ones).
type recordingSink struct {
	mu     sync.Mutex
	calls  int
	events []*interaction.Event
	refuse func(n int, ev *interaction.Event) error
}

func (s *recordingSink) HandleEvent(ctx context.Context, ev *interaction.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.calls
	s.calls++
	if s.refuse != nil {
		if err := s.refuse(n, ev); err != nil {
			return err
		}
	}
	s.events = append(s.events, ev)
	return nil
}

func (s *recordingSink) eventIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, len(s.events))
	for i, ev := range s.events {
		ids[i] = ev.ID
	}
	return ids
}

func (s *recordingSink) callCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// stateSink also records agent state changes.
type stateSink struct {
	recordingSink
	states []AgentStateChange
}

func (s *stateSink) HandleAgentState(ctx context.Context, c AgentStateChange) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.states = append(s.states, c)
	return nil
}

// startWebhook returns a running webhook delivering to sink; Run ends with
// the test.
func startWebhook(t *testing.T, opts WebhookOptions, sink Sink) *Webhook {
	t.Helper()
	w, err := NewWebhook(opts)
	if err != nil {
		t.Fatalf("NewWebhook: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, sink) }()
	waitRunning(w)
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return w
}

func waitRunning(w *Webhook) {
	for {
		if w.Running() {
			return
		}
		runtime.Gosched()
	}
}

func testOptions(clock *testclock.Clock) WebhookOptions {
	return WebhookOptions{Secret: testSecret, PreviousSecrets: [][]byte{testOldSecret}, Now: clock.Now}
}

// eventJSON is a valid event with the given id.
func eventJSON(id string) string {
	return fmt.Sprintf(`{"id":%q,"type":"callAlerting","timestamp":"2025-03-04T09:15:00Z","agentId":"1042",`+
		`"interaction":{"agentInteractionId":"IX-1","callType":"inbound","activity":{"customerCli":"0299990000"}}}`, id)
}

// signedRequest is a POST of body signed with secret at ts.
func signedRequest(secret []byte, ts time.Time, body string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/api/v1/events", strings.NewReader(body))
	tsHeader, sigHeader := Sign(secret, ts, []byte(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(TimestampHeader, tsHeader)
	req.Header.Set(SignatureHeader, sigHeader)
	return req
}

// response is any webhook response body.
type response struct {
	Status   int
	Header   http.Header
	Accepted *int `json:"accepted"`
	Error    *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Path    string `json:"path"`
	} `json:"error"`
}

func (r response) code() string {
	if r.Error == nil {
		return ""
	}
	return r.Error.Code
}

func (r response) path() string {
	if r.Error == nil {
		return ""
	}
	return r.Error.Path
}

func serve(t *testing.T, h http.Handler, req *http.Request) response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var r response
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q, want application/json", ct)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		t.Fatalf("response body %q is not JSON: %v", rec.Body.String(), err)
	}
	r.Status, r.Header = rec.Code, rec.Header()
	return r
}

func TestSign(t *testing.T) {
	// The expected signature was computed independently, as docs/webhook.md
	// shows:  printf '%s' '1741080902.{"id":"e1"}' | openssl dgst -sha256 -hmac whsec-demo
	ts, sig := Sign([]byte("whsec-demo"), time.Unix(1741080902, 0), []byte(`{"id":"e1"}`))
	if ts != "1741080902" {
		t.Errorf("timestamp header = %q, want 1741080902", ts)
	}
	if want := "v1=9757d904fb7e9d0edcd6ce1b99101127955da1e9fb47ef0980ae32160df59bab"; sig != want {
		t.Errorf("signature header = %q, want %q", sig, want)
	}
}

func TestWebhookAuthentication(t *testing.T) {
	body := eventJSON("evt-1")
	sig := func(secret []byte, ts time.Time, body string) string {
		_, s := Sign(secret, ts, []byte(body))
		return s
	}
	tests := []struct {
		name string
		// request builds the request under test.
		request func() *http.Request
		// before, when set, is sent first (for replays).
		before     func() *http.Request
		wantStatus int
		wantCode   string
		wantEvents int
	}{
		{
			name:       "a valid signature is accepted and delivered once",
			request:    func() *http.Request { return signedRequest(testSecret, testNow, body) },
			wantStatus: http.StatusAccepted, wantEvents: 1,
		},
		{
			name: "unsigned",
			request: func() *http.Request {
				return httptest.NewRequest(http.MethodPost, "/api/v1/events", strings.NewReader(body))
			},
			wantStatus: http.StatusUnauthorized, wantCode: codeMissingTimestamp,
		},
		{
			name: "timestamp without a signature",
			request: func() *http.Request {
				req := signedRequest(testSecret, testNow, body)
				req.Header.Del(SignatureHeader)
				return req
			},
			wantStatus: http.StatusUnauthorized, wantCode: codeMissingSignature,
		},
		{
			name: "timestamp that is not unix seconds",
			request: func() *http.Request {
				req := signedRequest(testSecret, testNow, body)
				req.Header.Set(TimestampHeader, testNow.Format(time.RFC3339))
				return req
			},
			wantStatus: http.StatusUnauthorized, wantCode: codeInvalidTimestamp,
		},
		{
			name: "signature that is not hex",
			request: func() *http.Request {
				req := signedRequest(testSecret, testNow, body)
				req.Header.Set(SignatureHeader, "v1="+strings.Repeat("zz", 32))
				return req
			},
			wantStatus: http.StatusUnauthorized, wantCode: codeInvalidSignature,
		},
		{
			name: "signature of an unknown scheme only",
			request: func() *http.Request {
				req := signedRequest(testSecret, testNow, body)
				req.Header.Set(SignatureHeader, "v2="+strings.TrimPrefix(req.Header.Get(SignatureHeader), "v1="))
				return req
			},
			wantStatus: http.StatusUnauthorized, wantCode: codeInvalidSignature,
		},
		{
			name:       "signed with a wrong secret",
			request:    func() *http.Request { return signedRequest([]byte("not-the-secret"), testNow, body) },
			wantStatus: http.StatusUnauthorized, wantCode: codeInvalidSignature,
		},
		{
			name:       "timestamp older than the tolerance",
			request:    func() *http.Request { return signedRequest(testSecret, testNow.Add(-5*time.Minute-time.Second), body) },
			wantStatus: http.StatusUnauthorized, wantCode: codeTimestampTolerance,
		},
		{
			name:       "timestamp further in the future than the tolerance",
			request:    func() *http.Request { return signedRequest(testSecret, testNow.Add(5*time.Minute+time.Second), body) },
			wantStatus: http.StatusUnauthorized, wantCode: codeTimestampTolerance,
		},
		{
			name:       "timestamp exactly at the tolerance is still accepted",
			request:    func() *http.Request { return signedRequest(testSecret, testNow.Add(-5*time.Minute), body) },
			wantStatus: http.StatusAccepted, wantEvents: 1,
		},
		{
			name: "body changed after signing",
			request: func() *http.Request {
				req := signedRequest(testSecret, testNow, body)
				tampered := strings.Replace(body, "0299990000", "0299990001", 1)
				req.Body = io.NopCloser(strings.NewReader(tampered))
				req.ContentLength = int64(len(tampered))
				return req
			},
			wantStatus: http.StatusUnauthorized, wantCode: codeInvalidSignature,
		},
		{
			name: "timestamp changed after signing",
			request: func() *http.Request {
				req := signedRequest(testSecret, testNow, body)
				req.Header.Set(TimestampHeader, fmt.Sprint(testNow.Unix()+1))
				return req
			},
			wantStatus: http.StatusUnauthorized, wantCode: codeInvalidSignature,
		},
		{
			name:       "the same signed request sent twice is a replay",
			before:     func() *http.Request { return signedRequest(testSecret, testNow, body) },
			request:    func() *http.Request { return signedRequest(testSecret, testNow, body) },
			wantStatus: http.StatusUnauthorized, wantCode: codeReplayed, wantEvents: 1,
		},
		{
			name:       "the same body signed at another second is not a replay",
			before:     func() *http.Request { return signedRequest(testSecret, testNow, body) },
			request:    func() *http.Request { return signedRequest(testSecret, testNow.Add(time.Second), body) },
			wantStatus: http.StatusAccepted, wantEvents: 2,
		},
		{
			name: "a request signed with two secrets replayed with one of them",
			before: func() *http.Request {
				req := signedRequest(testSecret, testNow, body)
				req.Header.Set(SignatureHeader, sig(testSecret, testNow, body)+","+sig(testOldSecret, testNow, body))
				return req
			},
			request:    func() *http.Request { return signedRequest(testOldSecret, testNow, body) },
			wantStatus: http.StatusUnauthorized, wantCode: codeReplayed, wantEvents: 1,
		},
		{
			name:       "signed with the previous secret during rotation",
			request:    func() *http.Request { return signedRequest(testOldSecret, testNow, body) },
			wantStatus: http.StatusAccepted, wantEvents: 1,
		},
		{
			name: "several signatures of which one matches",
			request: func() *http.Request {
				req := signedRequest(testSecret, testNow, body)
				req.Header.Set(SignatureHeader, sig([]byte("retired"), testNow, body)+", v0=legacy, "+sig(testSecret, testNow, body))
				return req
			},
			wantStatus: http.StatusAccepted, wantEvents: 1,
		},
		{
			name: "more signatures than allowed",
			request: func() *http.Request {
				req := signedRequest(testSecret, testNow, body)
				valid := sig(testSecret, testNow, body)
				req.Header.Set(SignatureHeader, strings.Repeat(valid+",", maxSignatures)+valid)
				return req
			},
			wantStatus: http.StatusUnauthorized, wantCode: codeInvalidSignature,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &recordingSink{}
			w := startWebhook(t, testOptions(testclock.New(testNow)), sink)
			if tt.before != nil {
				if r := serve(t, w, tt.before()); r.Status != http.StatusAccepted {
					t.Fatalf("first request: status %d (%s), want 202", r.Status, r.code())
				}
			}
			r := serve(t, w, tt.request())
			if r.Status != tt.wantStatus || r.code() != tt.wantCode {
				t.Errorf("status %d code %q, want %d %q (response %+v)", r.Status, r.code(), tt.wantStatus, tt.wantCode, r.Error)
			}
			if got := sink.callCount(); got != tt.wantEvents {
				t.Errorf("sink called %d times, want %d", got, tt.wantEvents)
			}
			switch tt.wantStatus {
			case http.StatusUnauthorized:
				if r.Header.Get("WWW-Authenticate") == "" {
					t.Error("401 without a WWW-Authenticate header")
				}
				if r.Error == nil || r.Error.Message == "" {
					t.Error("401 without an error message")
				}
			case http.StatusAccepted:
				if r.Accepted == nil || *r.Accepted != 1 {
					t.Errorf("accepted = %v, want 1", r.Accepted)
				}
			}
		})
	}
}

func TestWebhookMalformedEvents(t *testing.T) {
	valid := eventJSON("evt-1")
	badCallType := strings.Replace(eventJSON("evt-4"), `"callType":"inbound"`, `"callType":"inbund"`, 1)
	tests := []struct {
		name     string
		body     string
		wantCode string
		wantPath string
		// wantInMessage must appear in the message, which says what to fix.
		wantInMessage string
	}{
		{name: "an event without a call type", body: strings.Replace(valid, `"callType":"inbound",`, "", 1),
			wantCode: codeInvalidEvent, wantPath: "interaction.callType", wantInMessage: "interaction.callType: missing"},
		{name: "an event with an unknown event type", body: strings.Replace(valid, "callAlerting", "callRinging", 1),
			wantCode: codeInvalidEvent, wantPath: "type", wantInMessage: "callRinging"},
		{name: "a body that is not JSON", body: `{"id": "evt-1",`,
			wantCode: codeInvalidEvent, wantPath: "", wantInMessage: "truncated"},
		{name: "an empty body", body: ``,
			wantCode: codeInvalidEvent, wantPath: "", wantInMessage: "empty"},
		{name: "a batch whose fourth event has an unknown call type",
			body:     "[" + strings.Join([]string{eventJSON("evt-1"), eventJSON("evt-2"), eventJSON("evt-3"), badCallType}, ",") + "]",
			wantCode: codeInvalidEvent, wantPath: "[3].interaction.callType", wantInMessage: `"inbund" is not a call type`},
		{name: "a batch with a null item", body: "[" + valid + ",null]",
			wantCode: codeInvalidEvent, wantPath: "[1]", wantInMessage: "[1]: is null"},
		{name: "a batch that is not valid JSON", body: "[" + valid + ",\n{]",
			wantCode: codeInvalidJSON, wantInMessage: "line 2, column 2"},
		{name: "an empty batch", body: "[]",
			wantCode: codeEmptyBatch, wantInMessage: "at least one event"},
		{name: "an agent state event with an unknown state", body: `{"id":"s1","type":"agentState","agentId":"1042","state":"Busy"}`,
			wantCode: codeInvalidEvent, wantPath: "state", wantInMessage: "use one of LoggedOut, Paused"},
		{name: "an agent state event without an agent, in a batch", body: "[" + valid + `,{"id":"s1","type":"agentState","state":"Ready"}]`,
			wantCode: codeInvalidEvent, wantPath: "[1].agentId", wantInMessage: "missing"},
		{name: "an agent state event whose state is a number", body: `{"id":"s1","type":"agentState","agentId":"1042","state":3}`,
			wantCode: codeInvalidEvent, wantPath: "state", wantInMessage: "write a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &stateSink{}
			w := startWebhook(t, testOptions(testclock.New(testNow)), sink)
			r := serve(t, w, signedRequest(testSecret, testNow, tt.body))
			if r.Status != http.StatusBadRequest || r.code() != tt.wantCode || r.path() != tt.wantPath {
				t.Errorf("status %d code %q path %q, want 400 %q %q", r.Status, r.code(), r.path(), tt.wantCode, tt.wantPath)
			}
			if r.Error == nil || !strings.Contains(r.Error.Message, tt.wantInMessage) {
				t.Errorf("message %+v does not contain %q", r.Error, tt.wantInMessage)
			}
			if r.Accepted != nil {
				t.Errorf("accepted = %d on a request refused before delivery; want it absent", *r.Accepted)
			}
			if n := sink.callCount() + len(sink.states); n != 0 {
				t.Errorf("sink called %d times for a malformed request, want 0", n)
			}
		})
	}
}

func TestWebhookBodyTooLarge(t *testing.T) {
	big := "[" + strings.Repeat(eventJSON("evt-1")+",", 20) + eventJSON("evt-2") + "]"
	tests := []struct {
		name string
		// chunked sends without a Content-Length, so the limit is found
		// while reading.
		chunked bool
	}{
		{name: "with a Content-Length over the limit"},
		{name: "chunked, without a Content-Length", chunked: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &recordingSink{}
			opts := testOptions(testclock.New(testNow))
			opts.MaxBody = 1024
			w := startWebhook(t, opts, sink)
			req := signedRequest(testSecret, testNow, big)
			if tt.chunked {
				req.ContentLength = -1
			}
			r := serve(t, w, req)
			if r.Status != http.StatusRequestEntityTooLarge || r.code() != codeBodyTooLarge {
				t.Errorf("status %d code %q, want 413 %s", r.Status, r.code(), codeBodyTooLarge)
			}
			if sink.callCount() != 0 {
				t.Error("sink called for a body over the limit")
			}
		})
	}
}

func TestWebhookBatchDelivery(t *testing.T) {
	batch := "[" + eventJSON("evt-1") + "," + eventJSON("evt-2") + "," + eventJSON("evt-3") + "]"
	errBackend := errors.New("duplicate interaction for another agent")
	tests := []struct {
		name         string
		refuse       func(n int, ev *interaction.Event) error
		wantStatus   int
		wantCode     string
		wantPath     string
		wantAccepted int
		wantEvents   []string
	}{
		{
			name:       "every event is delivered in order",
			wantStatus: http.StatusAccepted, wantAccepted: 3, wantEvents: []string{"evt-1", "evt-2", "evt-3"},
		},
		{
			name:       "a refusal stops the batch and says how many went through",
			refuse:     refuseNth(1, errBackend),
			wantStatus: http.StatusUnprocessableEntity, wantCode: codeEventRefused, wantPath: "[1]",
			wantAccepted: 1, wantEvents: []string{"evt-1"},
		},
		{
			name:       "a sink's event error names the field in the batch",
			refuse:     refuseNth(2, &interaction.EventError{Path: "agentId", Msg: "differs from the call's agent"}),
			wantStatus: http.StatusBadRequest, wantCode: codeInvalidEvent, wantPath: "[2].agentId",
			wantAccepted: 2, wantEvents: []string{"evt-1", "evt-2"},
		},
		{
			name:       "a temporary failure asks for a retry",
			refuse:     refuseNth(0, fmt.Errorf("outbox: %w", ErrUnavailable)),
			wantStatus: http.StatusServiceUnavailable, wantCode: codeUnavailable,
			wantAccepted: 0, wantEvents: []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &recordingSink{refuse: tt.refuse}
			w := startWebhook(t, testOptions(testclock.New(testNow)), sink)
			r := serve(t, w, signedRequest(testSecret, testNow, batch))
			if r.Status != tt.wantStatus || r.code() != tt.wantCode || r.path() != tt.wantPath {
				t.Errorf("status %d code %q path %q, want %d %q %q (%+v)", r.Status, r.code(), r.path(), tt.wantStatus, tt.wantCode, tt.wantPath, r.Error)
			}
			if r.Accepted == nil || *r.Accepted != tt.wantAccepted {
				t.Errorf("accepted = %v, want %d", r.Accepted, tt.wantAccepted)
			}
			if got := sink.eventIDs(); strings.Join(got, ",") != strings.Join(tt.wantEvents, ",") {
				t.Errorf("delivered %v, want %v", got, tt.wantEvents)
			}
		})
	}
}

func refuseNth(nth int, err error) func(int, *interaction.Event) error {
	return func(n int, _ *interaction.Event) error {
		if n == nth {
			return err
		}
		return nil
	}
}

func TestWebhookRetryAfterTemporaryFailure(t *testing.T) {
	// The same signed request may be resent after a 503: it is not a replay.
	sink := &recordingSink{refuse: refuseNth(0, ErrUnavailable)}
	w := startWebhook(t, testOptions(testclock.New(testNow)), sink)
	body := eventJSON("evt-1")
	first := serve(t, w, signedRequest(testSecret, testNow, body))
	if first.Status != http.StatusServiceUnavailable || first.Header.Get("Retry-After") == "" {
		t.Fatalf("first attempt: status %d, Retry-After %q; want 503 with Retry-After", first.Status, first.Header.Get("Retry-After"))
	}
	second := serve(t, w, signedRequest(testSecret, testNow, body))
	if second.Status != http.StatusAccepted {
		t.Fatalf("retry of the same signed request: status %d (%s), want 202", second.Status, second.code())
	}
	third := serve(t, w, signedRequest(testSecret, testNow, body))
	if third.code() != codeReplayed {
		t.Errorf("third send after success: code %q, want %s", third.code(), codeReplayed)
	}
}

func TestWebhookAgentStateEvents(t *testing.T) {
	body := `[{"id":"s1","type":"agentState","timestamp":"2025-03-04T09:15:00Z","agentId":"1042","state":"On call"},` +
		`{"id":"s2","type":"agentState","agentId":"1042","state":"Paused","reason":"Lunch"}]`
	tests := []struct {
		name       string
		sink       Sink
		wantStates []AgentStateChange
	}{
		{
			name: "a sink that wants agent states gets them",
			sink: &stateSink{},
			wantStates: []AgentStateChange{
				{AgentID: "1042", State: AgentOnCall, Time: time.Date(2025, 3, 4, 9, 15, 0, 0, time.UTC)},
				{AgentID: "1042", State: AgentPaused, Reason: "Lunch", Time: testNow},
			},
		},
		{name: "a sink that does not is not bothered", sink: &recordingSink{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := startWebhook(t, testOptions(testclock.New(testNow)), tt.sink)
			r := serve(t, w, signedRequest(testSecret, testNow, body))
			if r.Status != http.StatusAccepted || *r.Accepted != 2 {
				t.Fatalf("status %d accepted %v (%+v), want 202 and 2", r.Status, r.Accepted, r.Error)
			}
			if ss, ok := tt.sink.(*stateSink); ok {
				if len(ss.states) != len(tt.wantStates) {
					t.Fatalf("states %+v, want %+v", ss.states, tt.wantStates)
				}
				for i := range ss.states {
					got, want := ss.states[i], tt.wantStates[i]
					if got.AgentID != want.AgentID || got.State != want.State || got.Reason != want.Reason || !got.Time.Equal(want.Time) {
						t.Errorf("state[%d] = %+v, want %+v", i, got, want)
					}
				}
			}
		})
	}
}

func TestWebhookMethodNotAllowed(t *testing.T) {
	w := startWebhook(t, testOptions(testclock.New(testNow)), &recordingSink{})
	r := serve(t, w, httptest.NewRequest(http.MethodGet, "/api/v1/events", nil))
	if r.Status != http.StatusMethodNotAllowed || r.Header.Get("Allow") != http.MethodPost {
		t.Errorf("status %d Allow %q, want 405 and POST", r.Status, r.Header.Get("Allow"))
	}
}

func TestWebhookNotRunning(t *testing.T) {
	clock := testclock.New(testNow)
	w, err := NewWebhook(testOptions(clock))
	if err != nil {
		t.Fatal(err)
	}
	body := eventJSON("evt-1")
	r := serve(t, w, signedRequest(testSecret, testNow, body))
	if r.Status != http.StatusServiceUnavailable || r.code() != codeNotRunning {
		t.Fatalf("before Run: status %d code %q, want 503 %s", r.Status, r.code(), codeNotRunning)
	}
	// The refused request was not remembered, so it goes through once Run
	// has started.
	sink := &recordingSink{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, sink) }()
	waitRunning(w)
	if r := serve(t, w, signedRequest(testSecret, testNow, body)); r.Status != http.StatusAccepted {
		t.Errorf("after Run: status %d (%s), want 202", r.Status, r.code())
	}
	if err := w.Run(ctx, sink); err == nil {
		t.Error("a second concurrent Run was allowed")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if r := serve(t, w, signedRequest(testSecret, testNow.Add(time.Second), body)); r.code() != codeNotRunning {
		t.Errorf("after Run ended: code %q, want %s", r.code(), codeNotRunning)
	}
}

// blockingSink blocks in HandleEvent until its context ends.
type blockingSink struct{ entered chan struct{} }

func (s *blockingSink) HandleEvent(ctx context.Context, ev *interaction.Event) error {
	close(s.entered)
	<-ctx.Done()
	return ctx.Err()
}

func TestWebhookRunWaitsForDeliveries(t *testing.T) {
	w, err := NewWebhook(testOptions(testclock.New(testNow)))
	if err != nil {
		t.Fatal(err)
	}
	sink := &blockingSink{entered: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- w.Run(ctx, sink) }()
	waitRunning(w)

	served := make(chan response, 1)
	go func() { served <- serve(t, w, signedRequest(testSecret, testNow, eventJSON("evt-1"))) }()
	<-sink.entered
	cancel()
	// Run returns only once the delivery in progress has been cancelled and
	// has finished.
	if err := <-runDone; err != nil {
		t.Errorf("Run: %v", err)
	}
	if r := <-served; r.Status != http.StatusServiceUnavailable || r.code() != codeUnavailable {
		t.Errorf("interrupted delivery: status %d code %q, want 503 %s", r.Status, r.code(), codeUnavailable)
	}
}

// replayStep remembers (now, ts, key) and expects an outcome.
type replayStep struct {
	now, ts int64
	key     byte
	want    replayOutcome
}

func TestReplayMemory(t *testing.T) {
	tests := []struct {
		name     string
		capacity int
		steps    []replayStep
		wantSize int
	}{
		{
			name: "a message is remembered while its timestamp is within tolerance", capacity: 10,
			steps: []replayStep{
				{now: 1000, ts: 1000, key: 1, want: replayRemembered},
				{now: 1000 + 300, ts: 1000, key: 1, want: replaySeen},
				{now: 1000, ts: 1000, key: 2, want: replayRemembered},
				{now: 1000, ts: 1001, key: 1, want: replayRemembered},
			},
			wantSize: 3,
		},
		{
			name: "seconds out of tolerance are forgotten", capacity: 10,
			steps: []replayStep{
				{now: 1000, ts: 1000, key: 1, want: replayRemembered},
				{now: 1000, ts: 1200, key: 2, want: replayRemembered},
				{now: 2000, ts: 2000, key: 3, want: replayRemembered},
			},
			wantSize: 1,
		},
		{
			name: "at capacity new messages are refused, not older ones evicted", capacity: 2,
			steps: []replayStep{
				{now: 1000, ts: 1000, key: 1, want: replayRemembered},
				{now: 1000, ts: 1000, key: 2, want: replayRemembered},
				{now: 1000, ts: 1000, key: 3, want: replayFull},
				{now: 1000, ts: 1000, key: 1, want: replaySeen},
				{now: 1400, ts: 1400, key: 3, want: replayRemembered},
			},
			wantSize: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newReplayMemory(5*time.Minute, tt.capacity)
			for i, st := range tt.steps {
				got, wait := m.remember(st.now, st.ts, replayKey{st.key})
				if got != st.want {
					t.Errorf("step %d: outcome %d, want %d", i, got, st.want)
				}
				if got == replayFull && wait <= 0 {
					t.Errorf("step %d: full without a retry delay", i)
				}
			}
			if m.len() != tt.wantSize {
				t.Errorf("size %d, want %d", m.len(), tt.wantSize)
			}
		})
	}
}

func TestWebhookReplayMemoryFull(t *testing.T) {
	clock := testclock.New(testNow)
	opts := testOptions(clock)
	opts.ReplayCapacity = 2
	w := startWebhook(t, opts, &recordingSink{})
	for i := range 2 {
		if r := serve(t, w, signedRequest(testSecret, testNow, eventJSON(fmt.Sprint("evt-", i)))); r.Status != http.StatusAccepted {
			t.Fatalf("request %d: status %d, want 202", i, r.Status)
		}
	}
	r := serve(t, w, signedRequest(testSecret, testNow, eventJSON("evt-full")))
	if r.Status != http.StatusServiceUnavailable || r.code() != codeReplayMemoryFull || r.Header.Get("Retry-After") == "" {
		t.Fatalf("at capacity: status %d code %q Retry-After %q, want 503 %s with Retry-After", r.Status, r.code(), r.Header.Get("Retry-After"), codeReplayMemoryFull)
	}
	// Once the remembered requests' timestamps are out of tolerance, there
	// is room again.
	clock.Advance(DefaultTolerance + 3*time.Second)
	if r := serve(t, w, signedRequest(testSecret, clock.Now(), eventJSON("evt-full"))); r.Status != http.StatusAccepted {
		t.Errorf("after expiry: status %d (%s), want 202", r.Status, r.code())
	}
}

func TestNewWebhookOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    WebhookOptions
		wantErr string
	}{
		{name: "no secret", opts: WebhookOptions{}, wantErr: "secret is empty"},
		{name: "an empty previous secret", opts: WebhookOptions{Secret: testSecret, PreviousSecrets: [][]byte{nil}}, wantErr: "previous secret 0 is empty"},
		{name: "a negative tolerance", opts: WebhookOptions{Secret: testSecret, Tolerance: -time.Second}, wantErr: "tolerance -1s is negative"},
		{name: "a negative body limit", opts: WebhookOptions{Secret: testSecret, MaxBody: -1}, wantErr: "max body -1 is negative"},
		{name: "defaults", opts: WebhookOptions{Secret: testSecret}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := NewWebhook(tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if w.tolerance != DefaultTolerance || w.maxBody != DefaultMaxBody || w.replay.capacity != DefaultReplayCapacity {
				t.Errorf("defaults: tolerance %v, max body %d, replay capacity %d", w.tolerance, w.maxBody, w.replay.capacity)
			}
		})
	}
}

func TestWebhookTypicalEventFile(t *testing.T) {
	body, err := os.ReadFile("testdata/outbound_event.json")
	if err != nil {
		t.Fatal(err)
	}
	sink := &recordingSink{}
	w := startWebhook(t, testOptions(testclock.New(testNow)), sink)
	if r := serve(t, w, signedRequest(testSecret, testNow, string(body))); r.Status != http.StatusAccepted {
		t.Fatalf("status %d (%+v), want 202", r.Status, r.Error)
	}
	ev := sink.events[0]
	if ev.Interaction.LeadData == nil || len(ev.Interaction.LeadData.Phones) != 2 || ev.Interaction.Activity.ActivityID != "5512093" {
		t.Errorf("decoded interaction %+v", ev.Interaction)
	}
	if !bytes.Contains(body, []byte(`"phoneIndex": 2`)) || ev.Interaction.LeadData.PhoneIndex != 2 {
		t.Errorf("phoneIndex %d, want 2", ev.Interaction.LeadData.PhoneIndex)
	}
}
