package sandbox_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/ctibridge/ctibridge/internal/sandbox"
	"github.com/ctibridge/ctibridge/internal/sandbox/sandboxtest"
)

const api = "/api/data/v9.2/"

// testOptions are the options most tests use: the reference config's
// custom columns and alternate key.
func testOptions() sandbox.Options {
	return sandbox.Options{
		ExtraColumns: []string{"new_wrapcode"},
		AlternateKey: "new_agentinteractionid",
	}
}

func seeded() sandbox.Options {
	o := testOptions()
	o.Seed = true
	o.SeedContacts = 120
	return o
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response body is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

func (r response) values(t testing.TB) []map[string]any {
	t.Helper()
	raw, ok := r.json(t)["value"].([]any)
	if !ok {
		t.Fatalf("response has no value array:\n%s", r.body)
	}
	out := make([]map[string]any, len(raw))
	for i, v := range raw {
		out[i] = v.(map[string]any)
	}
	return out
}

// errorOf returns the error code and message of a Dataverse error body.
func (r response) errorOf(t testing.TB) (string, string) {
	t.Helper()
	e, ok := r.json(t)["error"].(map[string]any)
	if !ok {
		t.Fatalf("response is not a Dataverse error:\n%s", r.body)
	}
	code, _ := e["code"].(string)
	msg, _ := e["message"].(string)
	return code, msg
}

// call sends one request; headers alternate name, value.
func call(t testing.TB, srv *httptest.Server, method, path, body string, headers ...string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatalf("building %s %s: %v", method, path, err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("OData-Version", "4.0")
	req.Header.Set("OData-MaxVersion", "4.0")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s %s: %v", method, path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// q builds a query string with proper escaping.
func q(pairs ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		v.Set(pairs[i], pairs[i+1])
	}
	return "?" + strings.ReplaceAll(v.Encode(), "+", "%20")
}

func newServer(t testing.TB, opts sandbox.Options) (*sandbox.Sandbox, *httptest.Server) {
	t.Helper()
	return sandboxtest.NewTestServer(t, opts)
}

// newServerFor serves an already open sandbox for the test.
func newServerFor(t testing.TB, sb *sandbox.Sandbox) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(srv.Close)
	return srv
}

// createRecord POSTs body to set and returns the new id from
// OData-EntityId.
func createRecord(t testing.TB, srv *httptest.Server, set, body string, headers ...string) string {
	t.Helper()
	r := call(t, srv, "POST", api+set, body, headers...)
	if r.status != http.StatusNoContent {
		t.Fatalf("POST %s = %d, want 204\n%s", set, r.status, r.body)
	}
	loc := r.header.Get("OData-EntityId")
	open, close := strings.LastIndex(loc, "("), strings.LastIndex(loc, ")")
	if open < 0 || close < open {
		t.Fatalf("OData-EntityId %q has no id", loc)
	}
	return loc[open+1 : close]
}

func wantStatus(t testing.TB, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d\n%s", r.status, status, r.body)
	}
}

func wantError(t testing.TB, r response, status int, code, msgPart string) {
	t.Helper()
	wantStatus(t, r, status)
	gotCode, msg := r.errorOf(t)
	if code != "" && gotCode != code {
		t.Errorf("error code = %q, want %q (message %q)", gotCode, code, msg)
	}
	if !strings.Contains(msg, msgPart) {
		t.Errorf("error message = %q, want it to contain %q", msg, msgPart)
	}
}
