package dataverse

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// captured is one request as the fake Dataverse received it.
type captured struct {
	Method     string
	RequestURI string // path and query exactly as sent on the wire
	Header     http.Header
	Body       string
}

// answer is what the fake Dataverse replies to one request.
type answer struct {
	status int
	header map[string]string
	body   string
	// drop closes the connection without answering, after reading the
	// request: a dropped connection as the client sees it.
	drop bool
}

// fakeDataverse answers Web API requests from a script and records them. The
// i-th request gets answers[i]; requests past the end get the last answer.
type fakeDataverse struct {
	mu      sync.Mutex
	got     []captured
	answers []answer
	// onRequest, if set, runs before answering (with the request's index).
	onRequest func(i int, r *http.Request)
	srv       *httptest.Server
}

func newFakeDataverse(t *testing.T, answers ...answer) *fakeDataverse {
	t.Helper()
	f := &fakeDataverse{answers: answers}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeDataverse) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	i := len(f.got)
	f.got = append(f.got, captured{Method: r.Method, RequestURI: r.RequestURI, Header: r.Header.Clone(), Body: string(body)})
	a := f.answers[min(i, len(f.answers)-1)]
	hook := f.onRequest
	f.mu.Unlock()
	if hook != nil {
		hook(i, r)
	}
	if a.drop {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	for k, v := range a.header {
		w.Header().Set(k, strings.ReplaceAll(v, "{base}", f.srv.URL))
	}
	w.WriteHeader(a.status)
	io.WriteString(w, strings.ReplaceAll(a.body, "{base}", f.srv.URL))
}

func (f *fakeDataverse) requests() []captured {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]captured(nil), f.got...)
}

// sleepRecorder replaces waiting: it records each wait and returns at once.
type sleepRecorder struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleepRecorder) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleepRecorder) recorded() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// noKeepAlive is an HTTP client that never reuses connections, so Go's
// transport never silently resends a request on a dropped reused
// connection and every send is the client's own.
func noKeepAlive() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
}

// newTestClient builds a client for f's server with deterministic waiting:
// waits are recorded, not slept, and jitter is its ceiling.
func newTestClient(t *testing.T, orgURL string, configure func(*Config)) (*Client, *sleepRecorder) {
	t.Helper()
	cfg := Config{OrgURL: orgURL, HTTPClient: noKeepAlive()}
	if configure != nil {
		configure(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	sleeps := &sleepRecorder{}
	c.sleep = sleeps.sleep
	c.jitter = func(ceiling time.Duration) time.Duration { return ceiling }
	return c, sleeps
}

func durations(ds ...time.Duration) []time.Duration { return ds }
