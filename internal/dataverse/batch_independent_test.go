package dataverse

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSandboxBatchIndependent: one request of a batch fails and the others
// are still done, each answer with its own request; the sandbox saw one
// HTTP request holding three operations.
func TestSandboxBatchIndependent(t *testing.T) {
	env := newSandboxEnv(t, nil)
	c, ctx := env.c, context.Background()
	missing := "00000000-0000-0000-0000-0000000000ff"
	env.sb.ResetStats()

	results, err := c.BatchIndependent(ctx, []BatchRequest{
		BatchUpsertByKey("phonecalls", "new_agentinteractionid", "IX-I1", map[string]any{"subject": "Upserted"}),
		BatchUpdate(ByID("phonecalls", missing), map[string]any{"subject": "nowhere"}),
		BatchCreate("tasks", map[string]any{"subject": "Created after the failure"}),
	})
	if err != nil {
		t.Fatalf("BatchIndependent: %v", err)
	}
	if len(results) != 3 {
		t.Fatalf("%d results, want 3", len(results))
	}

	if results[0].Err != nil {
		t.Fatalf("upsert: %v", results[0].Err)
	}
	callID, created, err := results[0].Response.UpsertedID("phonecalls", "new_agentinteractionid")
	if err != nil || !created {
		t.Errorf("upsert id %q created %v err %v, want a created record's id", callID, created, err)
	}
	if rec, err := c.RetrieveRef(ctx, ByKey("phonecalls", "new_agentinteractionid", "IX-I1"), "?$select=subject"); err != nil || rec["activityid"] != callID {
		t.Errorf("the upserted call = %v, %v; want id %s", rec, err, callID)
	}

	var e *Error
	if !errors.As(results[1].Err, &e) || !errors.Is(results[1].Err, ErrNotFound) || e.Message == "" || !strings.Contains(e.URL, missing) {
		t.Errorf("update of a missing record: %v, want its own 404 with the sandbox's message and its URL", results[1].Err)
	}
	if e != nil && e.Retryable() {
		t.Error("a 404 part says it is retryable")
	}

	if results[2].Err != nil {
		t.Fatalf("create after the failure: %v", results[2].Err)
	}
	if _, err := results[2].Response.EntityID(); err != nil {
		t.Errorf("create: %v", err)
	}

	st := env.sb.Stats()
	if st.Requests["POST $batch"] != 1 || st.BatchOperations["PATCH phonecalls"] != 2 || st.BatchOperations["POST tasks"] != 1 {
		t.Errorf("sandbox saw requests %v and batch operations %v, want one $batch of two PATCHes and a POST", st.Requests, st.BatchOperations)
	}
}

// TestBatchIndependentAnswers: how the answer of the whole $batch becomes
// one result per request, or one error for all.
func TestBatchIndependentAnswers(t *testing.T) {
	part := func(status string, headers ...string) []string {
		return append(append([]string{"--b", "Content-Type: application/http", "Content-Transfer-Encoding: binary", "", "HTTP/1.1 " + status}, headers...), "", "")
	}
	multipart := func(status int, parts ...[]string) answer {
		var lines []string
		for _, p := range parts {
			lines = append(lines, p...)
		}
		lines = append(lines, "--b--", "")
		return answer{status: status, header: map[string]string{"Content-Type": "multipart/mixed; boundary=b"}, body: crlf(lines...)}
	}
	ok := part("204 No Content")
	throttledPart := part("429 Too Many Requests", "Retry-After: 7", "Content-Type: application/json", "", `{"error":{"code":"0x80072322","message":"Number of requests exceeded the limit."}}`)
	badPart := part("400 Bad Request", "Content-Type: application/json", "", `{"error":{"code":"0x80040217","message":"No column new_x."}}`)
	throttled := answer{status: 429, header: map[string]string{"Retry-After": "3"}, body: `{"error":{"code":"0x80072322","message":"Combined execution time exceeded."}}`}
	three := []BatchRequest{
		BatchUpdate(ByID("tasks", callID), map[string]any{"subject": "a"}),
		BatchUpdate(ByID("tasks", contactID), map[string]any{"subject": "b"}),
		BatchDelete(ByID("tasks", callID)),
	}

	type want struct {
		failed    []int // indexes of results with an error
		retryable []int // of those, the retryable ones
	}
	tests := []struct {
		name    string
		answers []answer
		// wholeErr: the batch fails as a whole with an error matching this.
		wholeErr   func(error) bool
		retryAfter time.Duration
		want       want
	}{
		{
			name:    "each part answers for its request",
			answers: []answer{multipart(200, ok, throttledPart, badPart)},
			want:    want{failed: []int{1, 2}, retryable: []int{1}},
		},
		{
			name:    "a Dataverse that stops anyway leaves the rest not run, to retry",
			answers: []answer{multipart(400, ok, badPart)},
			want:    want{failed: []int{1, 2}, retryable: []int{2}},
		},
		{
			name:       "a throttled batch is one error for all, after the client's own retries",
			answers:    []answer{throttled},
			wholeErr:   func(err error) bool { return errors.Is(err, ErrThrottled) },
			retryAfter: 3 * time.Second,
		},
		{
			name:     "fewer answers than requests without a failure is an unreadable answer",
			answers:  []answer{multipart(200, ok, ok)},
			wholeErr: func(err error) bool { return strings.Contains(err.Error(), "2 answers to 3 requests") },
		},
		{
			name:     "an answer that is not multipart",
			answers:  []answer{{status: 200, header: map[string]string{"Content-Type": "application/json"}, body: "{}"}},
			wholeErr: func(err error) bool { return strings.Contains(err.Error(), "not multipart") },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeDataverse(t, tt.answers...)
			c, _ := newTestClient(t, f.srv.URL, func(c *Config) { c.MaxAttempts = 2 })
			results, err := c.BatchIndependent(context.Background(), three)
			if sent := f.requests(); len(sent) == 0 || sent[0].Header.Get("Prefer") != "odata.continue-on-error" {
				t.Errorf("sent %+v, want a $batch with Prefer: odata.continue-on-error", sent)
			}
			if tt.wholeErr != nil {
				var e *Error
				if results != nil || !errors.As(err, &e) || !tt.wholeErr(err) || e.RetryAfter != tt.retryAfter {
					t.Fatalf("results %+v err %v, want one error for the whole batch (Retry-After %v)", results, err, tt.retryAfter)
				}
				return
			}
			if err != nil || len(results) != 3 {
				t.Fatalf("results %+v err %v, want three results", results, err)
			}
			var failed, retryable []int
			for i, r := range results {
				if r.Err == nil {
					continue
				}
				failed = append(failed, i)
				var e *Error
				if !errors.As(r.Err, &e) {
					t.Fatalf("result %d: %v is not an *Error", i, r.Err)
				}
				if e.Retryable() {
					retryable = append(retryable, i)
				}
			}
			if !slices.Equal(failed, tt.want.failed) || !slices.Equal(retryable, tt.want.retryable) {
				t.Errorf("failed %v (retryable %v), want %v (%v)", failed, retryable, tt.want.failed, tt.want.retryable)
			}
		})
	}
}

func TestBatchIndependentPartErrorsCarryTheirOwnDetail(t *testing.T) {
	body := crlf("--b", "Content-Type: application/http", "", "HTTP/1.1 429 Too Many Requests", "Retry-After: 7",
		"Content-Type: application/json", "", `{"error":{"code":"0x80072322","message":"Number of requests exceeded the limit."}}`, "--b--", "")
	f := newFakeDataverse(t, answer{status: 200, header: map[string]string{"Content-Type": "multipart/mixed; boundary=b"}, body: body})
	c, _ := newTestClient(t, f.srv.URL, nil)
	results, err := c.BatchIndependent(context.Background(), []BatchRequest{BatchUpdate(ByID("tasks", callID), map[string]any{"subject": "a"})})
	if err != nil {
		t.Fatal(err)
	}
	var e *Error
	if !errors.As(results[0].Err, &e) || e.Status != http.StatusTooManyRequests || e.Code != "0x80072322" || e.RetryAfter != 7*time.Second ||
		e.Method != http.MethodPatch || !strings.HasSuffix(e.URL, "tasks("+callID+")") {
		t.Errorf("part error = %#v, want the part's 429, code, Retry-After 7s, method and URL", results[0].Err)
	}
	if len(f.requests()) != 1 {
		t.Errorf("sent %d times; a throttled part is the caller's to retry, not a reason to resend the batch", len(f.requests()))
	}
}

func TestBatchIndependentRefusesChangeSets(t *testing.T) {
	f := newFakeDataverse(t, answer{status: 200})
	c, _ := newTestClient(t, f.srv.URL, nil)
	_, err := c.BatchIndependent(context.Background(), []BatchRequest{BatchCreate("tasks", map[string]any{}).InChangeSet("1")})
	var e *Error
	if !errors.As(err, &e) || !e.NotSent || !strings.Contains(e.Message, "requests[0]: BatchIndependent takes no change sets") {
		t.Fatalf("err = %v, want a NotSent error naming the change set", err)
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("sent %d requests, want none", n)
	}
}
