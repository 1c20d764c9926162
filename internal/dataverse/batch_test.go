package dataverse

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// crlf writes a multipart text with the CRLF line ends the wire uses.
func crlf(lines ...string) string { return strings.Join(lines, "\r\n") }

// TestBatchWireFormat checks the exact multipart body of a batch holding a
// plain GET, an atomic change set with Content-ID references and a plain
// DELETE, and the parsing of Dataverse's answer.
func TestBatchWireFormat(t *testing.T) {
	answerBody := crlf(
		"--batchresponse_1",
		"Content-Type: application/http",
		"Content-Transfer-Encoding: binary",
		"",
		"HTTP/1.1 200 OK",
		"Content-Type: application/json; odata.metadata=minimal",
		"OData-Version: 4.0",
		"",
		`{"value":[{"fullname":"Ann Lee","contactid":"`+contactID+`"}]}`,
		"--batchresponse_1",
		"Content-Type: multipart/mixed; boundary=changesetresponse_2",
		"",
		"--changesetresponse_2",
		"Content-Type: application/http",
		"Content-Transfer-Encoding: binary",
		"Content-ID: 1",
		"",
		"HTTP/1.1 204 No Content",
		"OData-Version: 4.0",
		"Location: {base}/api/data/v9.2/contacts("+contactID+")",
		"OData-EntityId: {base}/api/data/v9.2/contacts("+contactID+")",
		"",
		"",
		"--changesetresponse_2",
		"Content-Type: application/http",
		"Content-Transfer-Encoding: binary",
		"Content-ID: 2",
		"",
		"HTTP/1.1 204 No Content",
		"OData-Version: 4.0",
		"OData-EntityId: {base}/api/data/v9.2/phonecalls("+callID+")",
		"",
		"",
		"--changesetresponse_2",
		"Content-Type: application/http",
		"Content-Transfer-Encoding: binary",
		"Content-ID: 3",
		"",
		"HTTP/1.1 204 No Content",
		"OData-Version: 4.0",
		"",
		"",
		"--changesetresponse_2--",
		"--batchresponse_1",
		"Content-Type: application/http",
		"Content-Transfer-Encoding: binary",
		"",
		"HTTP/1.1 204 No Content",
		"OData-Version: 4.0",
		"",
		"",
		"--batchresponse_1--",
		"",
	)
	f := newFakeDataverse(t, answer{status: 200, header: map[string]string{"Content-Type": "multipart/mixed; boundary=batchresponse_1"}, body: answerBody})
	c, _ := newTestClient(t, f.srv.URL, nil)

	responses, err := c.Batch(context.Background(), []BatchRequest{
		BatchGet("contacts", "?$select=fullname&$filter=telephone1 eq '0299990000'&$search=x"),
		BatchCreate("contacts", map[string]any{"lastname": "Lee"}).InChangeSet("1"),
		BatchCreate("phonecalls", map[string]any{"subject": "Call", "regardingobjectid_contact_phonecall@odata.bind": "$1"}).InChangeSet("2"),
		{Method: http.MethodPatch, Path: "$2", Header: http.Header{"If-Match": {"*"}}, Body: map[string]int{"statecode": 1, "statuscode": 4}, ChangeSet: true, ContentID: "3"},
		BatchDelete(ByID("tasks", callID)),
	})
	if err != nil {
		t.Fatal(err)
	}

	got := f.requests()
	if len(got) != 1 {
		t.Fatalf("%d requests, want one $batch", len(got))
	}
	r := got[0]
	if r.Method != "POST" || r.RequestURI != "/api/data/v9.2/$batch" {
		t.Errorf("request = %s %s, want POST /api/data/v9.2/$batch", r.Method, r.RequestURI)
	}
	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/mixed" || !strings.HasPrefix(params["boundary"], "batch_") {
		t.Fatalf("Content-Type = %q, want multipart/mixed with a batch_ boundary", r.Header.Get("Content-Type"))
	}
	for k, v := range map[string]string{"Odata-Version": "4.0", "Odata-Maxversion": "4.0", "Accept": "application/json"} {
		if r.Header.Get(k) != v {
			t.Errorf("header %s = %q, want %q", k, r.Header.Get(k), v)
		}
	}
	body := strings.ReplaceAll(r.Body, params["boundary"], "BATCH")
	body = regexp.MustCompile(`changeset_[0-9a-f]{32}`).ReplaceAllString(body, "CHANGESET")
	want := crlf(
		"--BATCH",
		"Content-Transfer-Encoding: binary",
		"Content-Type: application/http",
		"",
		"GET /api/data/v9.2/contacts?$select=fullname&$filter=telephone1%20eq%20'0299990000' HTTP/1.1",
		"Accept: application/json",
		"",
		"",
		"--BATCH",
		"Content-Type: multipart/mixed; boundary=CHANGESET",
		"",
		"--CHANGESET",
		"Content-ID: 1",
		"Content-Transfer-Encoding: binary",
		"Content-Type: application/http",
		"",
		"POST /api/data/v9.2/contacts HTTP/1.1",
		"Accept: application/json",
		"Content-Type: application/json; type=entry",
		"",
		`{"lastname":"Lee"}`,
		"--CHANGESET",
		"Content-ID: 2",
		"Content-Transfer-Encoding: binary",
		"Content-Type: application/http",
		"",
		"POST /api/data/v9.2/phonecalls HTTP/1.1",
		"Accept: application/json",
		"Content-Type: application/json; type=entry",
		"",
		`{"regardingobjectid_contact_phonecall@odata.bind":"$1","subject":"Call"}`,
		"--CHANGESET",
		"Content-ID: 3",
		"Content-Transfer-Encoding: binary",
		"Content-Type: application/http",
		"",
		"PATCH $2 HTTP/1.1",
		"Accept: application/json",
		"Content-Type: application/json; type=entry",
		"If-Match: *",
		"",
		`{"statecode":1,"statuscode":4}`,
		"--CHANGESET--",
		"",
		"--BATCH",
		"Content-Transfer-Encoding: binary",
		"Content-Type: application/http",
		"",
		"DELETE /api/data/v9.2/tasks("+callID+") HTTP/1.1",
		"Accept: application/json",
		"",
		"",
		"--BATCH--",
		"",
	)
	if body != want {
		t.Errorf("batch body:\n%s\nwant:\n%s", body, want)
	}

	if len(responses) != 5 {
		t.Fatalf("%d responses, want 5: %+v", len(responses), responses)
	}
	wantStatus := []int{200, 204, 204, 204, 204}
	wantIDs := []string{"", "1", "2", "3", ""}
	for i, res := range responses {
		if res.Status != wantStatus[i] || res.ContentID != wantIDs[i] {
			t.Errorf("response %d = status %d Content-ID %q, want %d %q", i, res.Status, res.ContentID, wantStatus[i], wantIDs[i])
		}
	}
	page, err := responses[0].Page()
	if err != nil || len(page.Records) != 1 || page.Records[0]["fullname"] != "Ann Lee" {
		t.Errorf("GET answer = %+v, %v", page, err)
	}
	if id, err := responses[1].EntityID(); err != nil || id != contactID {
		t.Errorf("contact id = %q, %v", id, err)
	}
	if id, err := responses[2].EntityID(); err != nil || id != callID {
		t.Errorf("phone call id = %q, %v", id, err)
	}
}

// TestBatchFailure: Dataverse stops at the failing request and answers with
// its status; the client returns what it got and a typed error.
func TestBatchFailure(t *testing.T) {
	failed := crlf(
		"--batchresponse_9",
		"Content-Type: application/http",
		"Content-Transfer-Encoding: binary",
		"",
		"HTTP/1.1 204 No Content",
		"OData-EntityId: {base}/api/data/v9.2/tasks("+callID+")",
		"",
		"",
		"--batchresponse_9",
		"Content-Type: application/http",
		"Content-Transfer-Encoding: binary",
		"",
		"HTTP/1.1 400 Bad Request",
		"Content-Type: application/json; odata.metadata=minimal",
		"",
		`{"error":{"code":"0x80044331","message":"The length of the 'subject' attribute of the 'task' entity exceeded the maximum allowed length of '200'."}}`,
		"--batchresponse_9--",
		"",
	)
	f := newFakeDataverse(t, answer{status: 400, header: map[string]string{"Content-Type": "multipart/mixed; boundary=batchresponse_9"}, body: failed})
	c, sleeps := newTestClient(t, f.srv.URL, nil)
	responses, err := c.Batch(context.Background(), []BatchRequest{
		BatchCreate("tasks", map[string]any{"subject": "ok"}),
		BatchCreate("tasks", map[string]any{"subject": strings.Repeat("x", 201)}),
		BatchCreate("tasks", map[string]any{"subject": "never run"}),
	})
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrBadRequest) || e.Code != "0x80044331" || !strings.Contains(e.Message, "exceeded the maximum allowed length") {
		t.Fatalf("err = %v, want the failing request's 400", err)
	}
	if len(responses) != 2 || responses[0].Status != 204 || responses[1].Status != 400 {
		t.Errorf("responses = %+v, want the 204 then the 400", responses)
	}
	if n := len(f.requests()); n != 1 || len(sleeps.recorded()) != 0 {
		t.Errorf("sent %d times with waits %v, want once", n, sleeps.recorded())
	}
}

// TestBatchRetries: a throttled batch is resent whatever it holds; after a
// dropped connection only a batch without creates is.
func TestBatchRetries(t *testing.T) {
	okBody := crlf("--b", "Content-Type: application/http", "", "HTTP/1.1 204 No Content", "", "", "--b--", "")
	ok := answer{status: 200, header: map[string]string{"Content-Type": "multipart/mixed; boundary=b"}, body: okBody}
	creates := []BatchRequest{BatchCreate("tasks", map[string]any{"subject": "x"})}
	updates := []BatchRequest{BatchUpdate(ByID("tasks", callID), map[string]any{"subject": "x"})}
	tests := []struct {
		name      string
		answers   []answer
		requests  []BatchRequest
		wantSends int
		wantErr   bool
	}{
		{name: "throttled batch of creates is resent", answers: []answer{{status: 429, header: map[string]string{"Retry-After": "1"}}, ok}, requests: creates, wantSends: 2},
		{name: "dropped batch of creates is not resent", answers: []answer{{drop: true}, ok}, requests: creates, wantSends: 1, wantErr: true},
		{name: "dropped batch of updates is resent", answers: []answer{{drop: true}, ok}, requests: updates, wantSends: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeDataverse(t, tt.answers...)
			c, _ := newTestClient(t, f.srv.URL, nil)
			responses, err := c.Batch(context.Background(), tt.requests)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && (len(responses) != 1 || responses[0].Status != 204) {
				t.Errorf("responses = %+v", responses)
			}
			if n := len(f.requests()); n != tt.wantSends {
				t.Errorf("sent %d times, want %d", n, tt.wantSends)
			}
		})
	}
}

// TestBatchRefusedBeforeSending: malformed batches never reach Dataverse.
func TestBatchRefusedBeforeSending(t *testing.T) {
	many := make([]BatchRequest, MaxBatchRequests+1)
	for i := range many {
		many[i] = BatchDelete(ByID("tasks", callID))
	}
	tests := []struct {
		name     string
		requests []BatchRequest
		want     string
	}{
		{name: "empty", requests: nil, want: "requests: empty batch"},
		{name: "too many", requests: many, want: "at most 1000"},
		{name: "GET in a change set", requests: []BatchRequest{BatchGet("contacts", "").InChangeSet("")}, want: "requests[0]: GET is not allowed in a change set"},
		{name: "reference to nothing", requests: []BatchRequest{{Method: "PATCH", Path: "$1", ChangeSet: true, Body: map[string]any{}}}, want: `requests[0].Path: "$1" refers to no earlier request`},
		{
			name: "reference across change sets",
			requests: []BatchRequest{
				BatchCreate("contacts", map[string]any{}).InChangeSet("1"),
				BatchDelete(ByID("tasks", callID)),
				{Method: "PATCH", Path: "$1", ChangeSet: true, Body: map[string]any{}},
			},
			want: `requests[2].Path: "$1" refers to no earlier request of the same change set`,
		},
		{name: "Content-ID outside a change set", requests: []BatchRequest{{Method: "POST", Path: "tasks", ContentID: "1", Body: map[string]any{}}}, want: "requests[0].ContentID: only change-set requests"},
		{
			name: "Content-ID twice",
			requests: []BatchRequest{
				BatchCreate("contacts", map[string]any{}).InChangeSet("1"),
				BatchCreate("contacts", map[string]any{}).InChangeSet("1"),
			},
			want: `requests[1].ContentID: "1" is used twice`,
		},
		{name: "bad method", requests: []BatchRequest{{Method: "MERGE", Path: "tasks"}}, want: `requests[0].Method: "MERGE"`},
		{name: "path with a space", requests: []BatchRequest{{Method: "GET", Path: "tasks HTTP/1.1\r\nX: y"}}, want: "requests[0].Path:"},
		{name: "absolute path", requests: []BatchRequest{{Method: "GET", Path: "/api/data/v9.2/tasks"}}, want: "must be relative"},
		{name: "bad ref", requests: []BatchRequest{BatchUpdate(ByID("tasks", "x"), map[string]any{})}, want: `requests[0]: ID: "x" is not a GUID`},
		{name: "bad query", requests: []BatchRequest{BatchGet("tasks", "?$top=1&$top=2")}, want: "requests[0].Query:"},
		{name: "header injection", requests: []BatchRequest{{Method: "GET", Path: "tasks", Header: http.Header{"Prefer": {"x\r\nEvil: 1"}}}}, want: "requests[0].Header:"},
		{name: "body that is not JSON", requests: []BatchRequest{{Method: "POST", Path: "tasks", Body: []byte("{")}}, want: "requests[0].body: not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeDataverse(t, answer{status: 200})
			c, _ := newTestClient(t, f.srv.URL, nil)
			_, err := c.Batch(context.Background(), tt.requests)
			var e *Error
			if !errors.As(err, &e) || !e.NotSent || !strings.Contains(e.Message, tt.want) {
				t.Fatalf("err = %v, want a NotSent error saying %q", err, tt.want)
			}
			if n := len(f.requests()); n != 0 {
				t.Errorf("sent %d requests, want none", n)
			}
		})
	}
}

func TestParseBatchResponseRejectsGarbage(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
	}{
		{name: "not multipart", contentType: "application/json", body: `{}`},
		{name: "no boundary", contentType: "multipart/mixed", body: ""},
		{name: "part that is not HTTP", contentType: "multipart/mixed; boundary=b", body: crlf("--b", "Content-Type: application/http", "", "garbage", "--b--")},
		{name: "unexpected part type", contentType: "multipart/mixed; boundary=b", body: crlf("--b", "Content-Type: text/plain", "", "hi", "--b--")},
		{name: "truncated", contentType: "multipart/mixed; boundary=b", body: crlf("--b", "Content-Type: application/http", "", "HTTP/1.1 204 No Content", "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := parseBatchResponse(tt.contentType, []byte(tt.body)); err == nil {
				t.Errorf("parseBatchResponse = %+v, want an error", got)
			}
		})
	}
}

// FuzzParseBatchResponse: any answer is parsed or refused, never a panic.
func FuzzParseBatchResponse(f *testing.F) {
	f.Add("multipart/mixed; boundary=b", crlf("--b", "Content-Type: application/http", "", "HTTP/1.1 204 No Content", "", "", "--b--", ""))
	f.Add("multipart/mixed; boundary=b", crlf("--b", "Content-Type: multipart/mixed; boundary=c", "", "--c", "Content-Type: application/http", "Content-ID: 1", "", "HTTP/1.1 201 Created", "", "{}", "--c--", "--b--"))
	f.Fuzz(func(t *testing.T, contentType, body string) {
		responses, err := parseBatchResponse(contentType, []byte(body))
		if err == nil {
			for _, r := range responses {
				if r.Status < 100 || r.Status > 999 {
					t.Fatalf("status %d parsed from %q", r.Status, body)
				}
			}
		}
	})
}

// ExampleClient_Batch creates a contact and a phone call regarding it and
// completes the call, atomically: if any step fails, none happened. (Not
// run: it needs a Dataverse.)
func ExampleClient_Batch() {
	c, err := New(Config{OrgURL: "https://contoso.crm6.dynamics.com", TenantID: "contoso.onmicrosoft.com", ClientID: "app", ClientSecret: "secret"})
	if err != nil {
		panic(err)
	}
	responses, err := c.Batch(context.Background(), []BatchRequest{
		BatchCreate("contacts", map[string]any{"lastname": "Lee", "telephone1": "0299990000"}).InChangeSet("1"),
		BatchCreate("phonecalls", map[string]any{
			"subject": "Call from 0299990000",
			"regardingobjectid_contact_phonecall@odata.bind": "$1",
		}).InChangeSet("2"),
		{Method: http.MethodPatch, Path: "$2", Body: map[string]int{"statecode": 1, "statuscode": PhoneCallReceived}, ChangeSet: true},
	})
	if err != nil {
		panic(err)
	}
	contactID, _ := responses[0].EntityID()
	fmt.Println("contact", contactID)
}

// TestBatchImpersonation: the impersonation header goes on the $batch
// request and on each operation in it.
func TestBatchImpersonation(t *testing.T) {
	okBody := crlf("--b", "Content-Type: application/http", "", "HTTP/1.1 204 No Content", "", "", "--b--", "")
	f := newFakeDataverse(t, answer{status: 200, header: map[string]string{"Content-Type": "multipart/mixed; boundary=b"}, body: okBody})
	c, _ := newTestClient(t, f.srv.URL, nil)
	ctx := WithCallerObjectID(context.Background(), "{AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE}")
	if _, err := c.Batch(ctx, []BatchRequest{BatchDelete(ByID("tasks", callID))}); err != nil {
		t.Fatal(err)
	}
	r := f.requests()[0]
	const id = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	if got := r.Header.Get("CallerObjectId"); got != id {
		t.Errorf("$batch CallerObjectId = %q, want %q", got, id)
	}
	if !strings.Contains(r.Body, "\r\nCallerObjectId: "+id+"\r\n") {
		t.Errorf("the operation lacks CallerObjectId:\n%s", r.Body)
	}
}
