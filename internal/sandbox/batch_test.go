package sandbox_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// batchOp is one operation of a test batch.
type batchOp struct {
	contentID string
	method    string
	url       string
	body      string
}

// batchBody builds a $batch body; each element of items is a batchOp or a
// []batchOp change set. Lines end in CRLF as clients send them.
func batchBody(items ...any) (string, string) {
	var b strings.Builder
	writeOp := func(boundary string, op batchOp) {
		fmt.Fprintf(&b, "--%s\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n", boundary)
		if op.contentID != "" {
			fmt.Fprintf(&b, "Content-ID: %s\r\n", op.contentID)
		}
		fmt.Fprintf(&b, "\r\n%s %s HTTP/1.1\r\n", op.method, op.url)
		if op.body != "" {
			b.WriteString("Content-Type: application/json; type=entry\r\n")
		}
		fmt.Fprintf(&b, "\r\n%s\r\n", op.body)
	}
	for i, item := range items {
		switch v := item.(type) {
		case batchOp:
			writeOp("batch_AAA", v)
		case []batchOp:
			cs := fmt.Sprintf("changeset_%d", i)
			fmt.Fprintf(&b, "--batch_AAA\r\nContent-Type: multipart/mixed; boundary=%s\r\n\r\n", cs)
			for _, op := range v {
				writeOp(cs, op)
			}
			fmt.Fprintf(&b, "--%s--\r\n", cs)
		}
	}
	b.WriteString("--batch_AAA--\r\n")
	return b.String(), `multipart/mixed; boundary="batch_AAA"`
}

// batchResult is one operation's response read back from a batch answer.
type batchResult struct {
	status    int
	contentID string
	header    http.Header
	body      string
	inSet     bool
}

func parseBatchResponse(t *testing.T, r response) []batchResult {
	t.Helper()
	_, params, err := mime.ParseMediaType(r.header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(params["boundary"], "batchresponse_") {
		t.Fatalf("batch response Content-Type = %q", r.header.Get("Content-Type"))
	}
	var out []batchResult
	var read func(rd io.Reader, boundary string, inSet bool)
	read = func(rd io.Reader, boundary string, inSet bool) {
		mr := multipart.NewReader(rd, boundary)
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatalf("batch response is not valid multipart: %v\n%s", err, r.body)
			}
			ct, cp, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
			if ct == "multipart/mixed" {
				if !strings.HasPrefix(cp["boundary"], "changesetresponse_") {
					t.Errorf("change set boundary %q", cp["boundary"])
				}
				read(p, cp["boundary"], true)
				continue
			}
			raw, _ := io.ReadAll(p)
			resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
			if err != nil {
				t.Fatalf("batch part is not an HTTP response: %v\n%s", err, raw)
			}
			body, _ := io.ReadAll(resp.Body)
			out = append(out, batchResult{status: resp.StatusCode, contentID: p.Header.Get("Content-ID"), header: resp.Header, body: string(body), inSet: inSet})
		}
	}
	read(bytes.NewReader(r.body), params["boundary"], false)
	return out
}

func postBatch(t *testing.T, srv *httptest.Server, headers []string, items ...any) response {
	t.Helper()
	body, ct := batchBody(items...)
	return call(t, srv, "POST", api+"$batch", body, append([]string{"Content-Type", ct}, headers...)...)
}

func countContacts(t *testing.T, srv *httptest.Server, lastname string) int {
	t.Helper()
	return len(call(t, srv, "GET", api+"contacts"+q("$filter", "lastname eq '"+lastname+"'"), "").values(t))
}

func TestBatchChangeSetWithReferences(t *testing.T) {
	_, srv := newServer(t, testOptions())
	r := postBatch(t, srv, nil,
		[]batchOp{
			{contentID: "1", method: "POST", url: srv.URL + api + "accounts", body: `{"name":"Batch Account"}`},
			{contentID: "2", method: "POST", url: "/api/data/v9.2/contacts", body: `{"firstname":"Bea","lastname":"Batch","parentcustomerid_account@odata.bind":"$1"}`},
			{contentID: "3", method: "PATCH", url: "$2", body: `{"jobtitle":"Referenced by URL"}`},
			{contentID: "4", method: "POST", url: "phonecalls", body: `{"subject":"in batch","regardingobjectid_contact_phonecall@odata.bind":"$2"}`},
		},
		batchOp{method: "GET", url: "contacts?$select=fullname,jobtitle,_parentcustomerid_value&$filter=lastname%20eq%20'Batch'"},
	)
	wantStatus(t, r, 200)
	results := parseBatchResponse(t, r)
	if len(results) != 5 {
		t.Fatalf("%d responses, want 5\n%s", len(results), r.body)
	}
	for i, res := range results[:4] {
		if res.status != 204 || !res.inSet || res.contentID != fmt.Sprint(i+1) {
			t.Errorf("change set response %d = %d inSet=%v Content-ID=%q\n%s", i, res.status, res.inSet, res.contentID, res.body)
		}
	}
	if !strings.Contains(results[0].header.Get("Location"), api+"accounts(") || !strings.Contains(results[0].header.Get("OData-EntityId"), api+"accounts(") {
		t.Errorf("create in batch lacks Location/OData-EntityId: %v", results[0].header)
	}
	if results[4].status != 200 || results[4].inSet || !strings.Contains(results[4].body, `"jobtitle":"Referenced by URL"`) || !strings.Contains(results[4].body, `"_parentcustomerid_value":"`) {
		t.Errorf("GET after the change set = %d\n%s", results[4].status, results[4].body)
	}
}

func TestBatchChangeSetIsAtomic(t *testing.T) {
	_, srv := newServer(t, testOptions())
	r := postBatch(t, srv, nil,
		[]batchOp{
			{contentID: "1", method: "POST", url: "contacts", body: `{"firstname":"A","lastname":"Atomic"}`},
			{contentID: "2", method: "POST", url: "contacts", body: `{"firstname":"B","lastname":"Atomic"}`},
			{contentID: "3", method: "POST", url: "contacts", body: `{"nickname":"fails"}`},
		},
		batchOp{method: "POST", url: "contacts", body: `{"firstname":"C","lastname":"Atomic"}`},
	)
	wantStatus(t, r, 400)
	results := parseBatchResponse(t, r)
	if len(results) != 1 || results[0].status != 400 || results[0].inSet || results[0].contentID != "3" {
		t.Fatalf("responses = %+v, want the failing operation alone", results)
	}
	if !strings.Contains(results[0].body, "0x80048d19") {
		t.Errorf("failure body = %s", results[0].body)
	}
	if n := countContacts(t, srv, "Atomic"); n != 0 {
		t.Errorf("%d contacts left by a failed change set (and the request after it), want 0", n)
	}
}

func TestBatchContinueOnError(t *testing.T) {
	_, srv := newServer(t, testOptions())
	r := postBatch(t, srv, []string{"Prefer", "odata.continue-on-error"},
		batchOp{method: "POST", url: "contacts", body: `{"firstname":"A","lastname":"Cont","telephone1":5}`},
		[]batchOp{
			{contentID: "1", method: "POST", url: "contacts", body: `{"firstname":"B","lastname":"Cont"}`},
			{contentID: "2", method: "PATCH", url: "contacts(00000000-0000-0000-0000-000000000042)", body: `{"firstname":"x"}`},
		},
		batchOp{method: "POST", url: "contacts", body: `{"firstname":"C","lastname":"Cont"}`},
		batchOp{method: "GET", url: "contacts(00000000-0000-0000-0000-000000000043)"},
	)
	wantStatus(t, r, 200)
	results := parseBatchResponse(t, r)
	var statuses []int
	for _, res := range results {
		statuses = append(statuses, res.status)
	}
	// The PATCH upserts the missing contact, so the change set succeeds.
	want := []int{400, 204, 204, 204, 404}
	if fmt.Sprint(statuses) != fmt.Sprint(want) {
		t.Fatalf("statuses = %v, want %v\n%s", statuses, want, r.body)
	}
	if n := countContacts(t, srv, "Cont"); n != 2 {
		t.Errorf("contacts created = %d, want 2", n)
	}
}

func TestBatchErrors(t *testing.T) {
	_, srv := newServer(t, testOptions())
	tooMany := make([]any, 1001)
	for i := range tooMany {
		tooMany[i] = batchOp{method: "GET", url: "WhoAmI"}
	}
	tests := []struct {
		name   string
		items  []any
		ct     string
		status int
		msg    string
	}{
		{name: "GET inside a change set", items: []any{[]batchOp{{method: "GET", url: "contacts"}}}, status: 400, msg: "not allowed in a change set"},
		{name: "reference before declaration", items: []any{[]batchOp{{contentID: "1", method: "POST", url: "phonecalls", body: `{"regardingobjectid_account_phonecall@odata.bind":"$2"}`}}}, status: 400, msg: "Content-ID Reference: '$2' does not exist in the batch context."},
		{name: "more than 1000 requests", items: tooMany, status: 400, msg: "more than 1000"},
		{name: "not multipart", ct: "application/json", status: 400, msg: "multipart/mixed"},
		{name: "nested batch", items: []any{batchOp{method: "POST", url: "$batch", body: "x"}}, status: 400, msg: "cannot contain another $batch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, ct := batchBody(tt.items...)
			if tt.ct != "" {
				ct = tt.ct
			}
			r := call(t, srv, "POST", api+"$batch", body, "Content-Type", ct)
			wantStatus(t, r, tt.status)
			text := string(r.body)
			if !strings.Contains(text, tt.msg) {
				t.Errorf("body does not mention %q:\n%s", tt.msg, text)
			}
		})
	}
}

func TestBatchAcceptsLFLineEndings(t *testing.T) {
	_, srv := newServer(t, testOptions())
	body, ct := batchBody([]batchOp{{contentID: "1", method: "POST", url: "contacts", body: `{"firstname":"L","lastname":"Feed"}`}})
	body = strings.ReplaceAll(body, "\r\n", "\n")
	r := call(t, srv, "POST", api+"$batch", body, "Content-Type", ct)
	wantStatus(t, r, 200)
	if n := countContacts(t, srv, "Feed"); n != 1 {
		t.Errorf("contacts = %d, want 1", n)
	}
}
