package dataverse

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

const (
	contactID = "0d4b6a4e-1b2c-4d5e-8f90-a1b2c3d4e5f6"
	callID    = "7f3e2d1c-0b9a-4876-9543-210fedcba987"
)

// TestOperationsWireFormat checks, for every operation, the exact request
// Dataverse receives (method, path and query as sent, headers, body) and
// what the client makes of the answer.
func TestOperationsWireFormat(t *testing.T) {
	tests := []struct {
		name   string
		answer answer
		// call runs the operation and checks its result.
		call       func(t *testing.T, ctx context.Context, c *Client)
		ctx        func(context.Context) context.Context
		wantMethod string
		wantURI    string
		wantHeader map[string]string
		// wantAbsent lists headers that must not be sent.
		wantAbsent []string
		wantBody   string
	}{
		{
			name: "RetrieveMultiple re-encodes raw spaces and drops $search",
			answer: answer{status: 200, body: `{"@odata.context":"x","value":[
				{"@odata.etag":"W/\"1\"","contactid":"` + contactID + `","fullname":"Ann Lee","numberofchildren":2,"revenue":12345678901234567890.25}]}`},
			call: func(t *testing.T, ctx context.Context, c *Client) {
				page, err := c.RetrieveMultiple(ctx, "contacts", "?$select=fullname,telephone1&$filter=telephone1 eq '0299990000'&$search=0299990000&$top=5")
				if err != nil {
					t.Fatal(err)
				}
				want := &Page{Count: -1, Records: []Record{{
					"@odata.etag": `W/"1"`, "contactid": contactID, "fullname": "Ann Lee",
					"numberofchildren": json.Number("2"), "revenue": json.Number("12345678901234567890.25"),
				}}}
				if !reflect.DeepEqual(page, want) {
					t.Errorf("page = %#v, want %#v", page, want)
				}
			},
			wantMethod: "GET",
			wantURI:    "/api/data/v9.2/contacts?$select=fullname,telephone1&$filter=telephone1%20eq%20'0299990000'&$top=5",
			wantAbsent: []string{"Content-Type", "Prefer", "Authorization", "CallerObjectId", "MSCRMCallerID"},
		},
		{
			name:   "RetrieveMultiple keeps escaped specials and doubled quotes in literals",
			answer: answer{status: 200, body: `{"value":[],"@odata.count":0}`},
			call: func(t *testing.T, ctx context.Context, c *Client) {
				page, err := c.RetrieveMultiple(ctx, "accounts", "$filter=name eq 'O''Bryan %26 Sons' or telephone1 eq '%2B61 2 9999 0000'&$count=true")
				if err != nil {
					t.Fatal(err)
				}
				if len(page.Records) != 0 || page.Count != 0 || page.NextLink != "" {
					t.Errorf("page = %#v, want empty with count 0", page)
				}
			},
			wantMethod: "GET",
			wantURI:    "/api/data/v9.2/accounts?$filter=name%20eq%20'O''Bryan%20%26%20Sons'%20or%20telephone1%20eq%20'%2B61%202%209999%200000'&$count=true",
		},
		{
			name:   "Retrieve by id lower-cases and unbraces the GUID",
			answer: answer{status: 200, body: `{"contactid":"` + contactID + `","fullname":"Ann Lee"}`},
			call: func(t *testing.T, ctx context.Context, c *Client) {
				rec, err := c.Retrieve(ctx, "contacts", "{0D4B6A4E-1B2C-4D5E-8F90-A1B2C3D4E5F6}", "?$select=fullname")
				if err != nil {
					t.Fatal(err)
				}
				if rec["fullname"] != "Ann Lee" {
					t.Errorf("record = %v", rec)
				}
			},
			wantMethod: "GET",
			wantURI:    "/api/data/v9.2/contacts(" + contactID + ")?$select=fullname",
		},
		{
			name:   "RetrieveRef by alternate key",
			answer: answer{status: 200, body: `{"activityid":"` + callID + `"}`},
			call: func(t *testing.T, ctx context.Context, c *Client) {
				if _, err := c.RetrieveRef(ctx, ByKey("phonecalls", "new_agentinteractionid", "IX-1"), "$select=activityid"); err != nil {
					t.Fatal(err)
				}
			},
			wantMethod: "GET",
			wantURI:    "/api/data/v9.2/phonecalls(new_agentinteractionid='IX-1')?$select=activityid",
		},
		{
			name: "Create posts JSON and reads the id from OData-EntityId",
			answer: answer{status: 204, header: map[string]string{
				"OData-EntityId": "{base}/api/data/v9.2/phonecalls(" + callID + ")"}},
			call: func(t *testing.T, ctx context.Context, c *Client) {
				id, err := c.Create(ctx, "phonecalls", map[string]any{
					"subject": "Call from 0299990000", "directioncode": false,
					"regardingobjectid_contact_phonecall@odata.bind": Bind("contacts", contactID),
				})
				if err != nil {
					t.Fatal(err)
				}
				if id != callID {
					t.Errorf("id = %q, want %q", id, callID)
				}
			},
			wantMethod: "POST",
			wantURI:    "/api/data/v9.2/phonecalls",
			wantHeader: map[string]string{"Content-Type": "application/json; charset=utf-8"},
			wantAbsent: []string{"Prefer", "If-Match", "If-None-Match"},
			wantBody:   `{"directioncode":false,"regardingobjectid_contact_phonecall@odata.bind":"/contacts(` + contactID + `)","subject":"Call from 0299990000"}`,
		},
		{
			name:   "CreateAndReturn asks for the record back",
			answer: answer{status: 201, body: `{"activityid":"` + callID + `","subject":"Follow up"}`},
			call: func(t *testing.T, ctx context.Context, c *Client) {
				rec, err := c.CreateAndReturn(ctx, "tasks", json.RawMessage(`{"subject":"Follow up"}`), "?$select=subject")
				if err != nil {
					t.Fatal(err)
				}
				if rec["activityid"] != callID || rec["subject"] != "Follow up" {
					t.Errorf("record = %v", rec)
				}
			},
			wantMethod: "POST",
			wantURI:    "/api/data/v9.2/tasks?$select=subject",
			wantHeader: map[string]string{"Prefer": "return=representation", "Content-Type": "application/json; charset=utf-8"},
			wantBody:   `{"subject":"Follow up"}`,
		},
		{
			name:   "Update is an update-only PATCH",
			answer: answer{status: 204},
			call: func(t *testing.T, ctx context.Context, c *Client) {
				if err := c.Update(ctx, ByID("phonecalls", callID), map[string]any{"description": "wrap: sale"}); err != nil {
					t.Fatal(err)
				}
			},
			wantMethod: "PATCH",
			wantURI:    "/api/data/v9.2/phonecalls(" + callID + ")",
			wantHeader: map[string]string{"If-Match": "*"},
			wantAbsent: []string{"If-None-Match", "Prefer"},
			wantBody:   `{"description":"wrap: sale"}`,
		},
		{
			name:   "Upsert that creates: 201 with the record",
			answer: answer{status: 201, body: `{"@odata.etag":"W/\"5\"","new_agentinteractionid":"IX-1","activityid":"` + callID + `"}`},
			call: func(t *testing.T, ctx context.Context, c *Client) {
				id, created, err := c.Upsert(ctx, "phonecalls", "new_agentinteractionid", "IX-1", map[string]any{"subject": "Call"})
				if err != nil {
					t.Fatal(err)
				}
				if id != callID || !created {
					t.Errorf("Upsert = %q, %v; want %q, true", id, created, callID)
				}
			},
			wantMethod: "PATCH",
			wantURI:    "/api/data/v9.2/phonecalls(new_agentinteractionid='IX-1')?$select=new_agentinteractionid",
			wantHeader: map[string]string{"Prefer": "return=representation"},
			wantAbsent: []string{"If-Match", "If-None-Match"},
			wantBody:   `{"subject":"Call"}`,
		},
		{
			name:   "Upsert that updates: 200, and a table whose key name is not guessable",
			answer: answer{status: 200, body: `{"new_code":"A B","new_oddrecordkey":"` + contactID + `"}`},
			call: func(t *testing.T, ctx context.Context, c *Client) {
				id, created, err := c.Upsert(ctx, "new_oddrecords", "new_code", "A B", map[string]any{"new_name": "x"})
				if err != nil {
					t.Fatal(err)
				}
				if id != contactID || created {
					t.Errorf("Upsert = %q, %v; want %q, false", id, created, contactID)
				}
			},
			wantMethod: "PATCH",
			wantURI:    "/api/data/v9.2/new_oddrecords(new_code='A%20B')?$select=new_code",
		},
		{
			name:   "Upsert escapes the key value as a literal and for the path",
			answer: answer{status: 200, body: `{"activityid":"` + callID + `"}`},
			call: func(t *testing.T, ctx context.Context, c *Client) {
				if _, _, err := c.Upsert(ctx, "phonecalls", "new_agentinteractionid", "IX 1 O'B é~", map[string]any{}); err != nil {
					t.Fatal(err)
				}
			},
			wantMethod: "PATCH",
			wantURI:    "/api/data/v9.2/phonecalls(new_agentinteractionid='IX%201%20O''B%20%C3%A9~')?$select=new_agentinteractionid",
		},
		{
			name:   "CreateOnly sends If-None-Match",
			answer: answer{status: 201, body: `{"activityid":"` + callID + `"}`},
			call: func(t *testing.T, ctx context.Context, c *Client) {
				id, err := c.CreateOnly(ctx, "phonecalls", "new_agentinteractionid", "IX-2", map[string]any{"subject": "Call"})
				if err != nil || id != callID {
					t.Fatalf("CreateOnly = %q, %v", id, err)
				}
			},
			wantMethod: "PATCH",
			wantURI:    "/api/data/v9.2/phonecalls(new_agentinteractionid='IX-2')?$select=new_agentinteractionid",
			wantHeader: map[string]string{"If-None-Match": "*", "Prefer": "return=representation"},
			wantAbsent: []string{"If-Match"},
		},
		{
			name:   "CreateOnly on an existing key is AlreadyExistsError",
			answer: answer{status: 412, body: `{"error":{"code":"0x80060892","message":"A record with matching key values already exists."}}`},
			call: func(t *testing.T, ctx context.Context, c *Client) {
				_, err := c.CreateOnly(ctx, "phonecalls", "new_agentinteractionid", "IX-2", map[string]any{})
				var ae *AlreadyExistsError
				if !errors.As(err, &ae) || !errors.Is(err, ErrAlreadyExists) || !errors.Is(err, ErrPreconditionFailed) {
					t.Fatalf("err = %v, want AlreadyExistsError matching ErrAlreadyExists and ErrPreconditionFailed", err)
				}
				if ae.Ref != ByKey("phonecalls", "new_agentinteractionid", "IX-2") || ae.AfterRetry || ae.Cause.Code != "0x80060892" {
					t.Errorf("AlreadyExistsError = %+v", ae)
				}
			},
			wantMethod: "PATCH",
			wantURI:    "/api/data/v9.2/phonecalls(new_agentinteractionid='IX-2')?$select=new_agentinteractionid",
		},
		{
			name:   "Delete",
			answer: answer{status: 204},
			call: func(t *testing.T, ctx context.Context, c *Client) {
				if err := c.Delete(ctx, ByID("contacts", contactID)); err != nil {
					t.Fatal(err)
				}
			},
			wantMethod: "DELETE",
			wantURI:    "/api/data/v9.2/contacts(" + contactID + ")",
			wantAbsent: []string{"Content-Type", "If-Match"},
		},
		{
			name:   "Complete an incoming phone call",
			answer: answer{status: 204},
			call: func(t *testing.T, ctx context.Context, c *Client) {
				if err := c.Complete(ctx, "phonecall", ByID("phonecalls", callID), PhoneCallReceived); err != nil {
					t.Fatal(err)
				}
			},
			wantMethod: "PATCH",
			wantURI:    "/api/data/v9.2/phonecalls(" + callID + ")",
			wantHeader: map[string]string{"If-Match": "*"},
			wantBody:   `{"statecode":1,"statuscode":4}`,
		},
		{
			name:   "Complete a task found by alternate key",
			answer: answer{status: 204},
			call: func(t *testing.T, ctx context.Context, c *Client) {
				if err := c.Complete(ctx, "task", ByKey("tasks", "new_agentinteractionid", "IX-3"), TaskCompleted); err != nil {
					t.Fatal(err)
				}
			},
			wantMethod: "PATCH",
			wantURI:    "/api/data/v9.2/tasks(new_agentinteractionid='IX-3')",
			wantBody:   `{"statecode":1,"statuscode":5}`,
		},
		{
			name: "impersonation by Entra object id",
			ctx: func(ctx context.Context) context.Context {
				return WithCallerObjectID(ctx, "AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE")
			},
			answer: answer{status: 204},
			call: func(t *testing.T, ctx context.Context, c *Client) {
				if err := c.Delete(ctx, ByID("tasks", callID)); err != nil {
					t.Fatal(err)
				}
			},
			wantMethod: "DELETE",
			wantURI:    "/api/data/v9.2/tasks(" + callID + ")",
			wantHeader: map[string]string{"CallerObjectId": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"},
			wantAbsent: []string{"MSCRMCallerID"},
		},
		{
			name: "impersonation by systemuserid as CIF reports it, the later setting winning",
			ctx: func(ctx context.Context) context.Context {
				ctx = WithCallerObjectID(ctx, "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")
				return WithCallerSystemUserID(ctx, "{11111111-2222-3333-4444-555555555555}")
			},
			answer: answer{status: 204},
			call: func(t *testing.T, ctx context.Context, c *Client) {
				if err := c.Delete(ctx, ByID("tasks", callID)); err != nil {
					t.Fatal(err)
				}
			},
			wantMethod: "DELETE",
			wantURI:    "/api/data/v9.2/tasks(" + callID + ")",
			wantHeader: map[string]string{"MSCRMCallerID": "11111111-2222-3333-4444-555555555555"},
			wantAbsent: []string{"CallerObjectId"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeDataverse(t, tt.answer)
			c, _ := newTestClient(t, f.srv.URL, nil)
			ctx := context.Background()
			if tt.ctx != nil {
				ctx = tt.ctx(ctx)
			}
			tt.call(t, ctx, c)

			got := f.requests()
			if len(got) != 1 {
				t.Fatalf("Dataverse got %d requests, want 1", len(got))
			}
			r := got[0]
			if r.Method != tt.wantMethod || r.RequestURI != tt.wantURI {
				t.Errorf("request = %s %s\nwant      %s %s", r.Method, r.RequestURI, tt.wantMethod, tt.wantURI)
			}
			want := map[string]string{"Odata-Version": "4.0", "Odata-Maxversion": "4.0", "Accept": "application/json"}
			for k, v := range tt.wantHeader {
				want[k] = v
			}
			for k, v := range want {
				if got := r.Header.Values(k); len(got) != 1 || got[0] != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			for _, k := range tt.wantAbsent {
				if v := r.Header.Values(k); len(v) != 0 {
					t.Errorf("header %s = %q, want none", k, v)
				}
			}
			if tt.wantBody != "" && r.Body != tt.wantBody {
				t.Errorf("body = %s\nwant   %s", r.Body, tt.wantBody)
			}
			if tt.wantBody == "" && r.Method != "PATCH" && r.Method != "POST" && r.Body != "" {
				t.Errorf("body = %q, want none", r.Body)
			}
		})
	}
}

// TestPaging follows @odata.nextLink with the same page size preference and
// stops at the last page.
func TestPaging(t *testing.T) {
	f := newFakeDataverse(t,
		answer{status: 200, body: `{"value":[{"fullname":"A"},{"fullname":"B"}],"@odata.nextLink":"{base}/api/data/v9.2/contacts?$select=fullname&$skiptoken=%3Ccookie%20pagenumber=%222%22%20/%3E"}`},
		answer{status: 200, body: `{"value":[{"fullname":"C"}]}`},
	)
	c, _ := newTestClient(t, f.srv.URL, func(cfg *Config) { cfg.PageSize = 2 })
	ctx := context.Background()

	var names []any
	page, err := c.RetrieveMultiple(ctx, "contacts", "?$select=fullname")
	for page != nil && err == nil {
		for _, r := range page.Records {
			names = append(names, r["fullname"])
		}
		page, err = c.NextPage(ctx, page)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(names, []any{"A", "B", "C"}) {
		t.Errorf("records = %v, want A B C", names)
	}
	got := f.requests()
	wantURIs := []string{
		"/api/data/v9.2/contacts?$select=fullname",
		"/api/data/v9.2/contacts?$select=fullname&$skiptoken=%3Ccookie%20pagenumber=%222%22%20/%3E",
	}
	if len(got) != len(wantURIs) {
		t.Fatalf("got %d requests, want %d", len(got), len(wantURIs))
	}
	for i, r := range got {
		if r.RequestURI != wantURIs[i] {
			t.Errorf("request %d = %s, want %s", i, r.RequestURI, wantURIs[i])
		}
		if p := r.Header.Get("Prefer"); p != "odata.maxpagesize=2" {
			t.Errorf("request %d Prefer = %q, want odata.maxpagesize=2", i, p)
		}
	}
}

// TestNextPageRefusesForeignLinks keeps the token from going to a host the
// client was not configured for.
func TestNextPageRefusesForeignLinks(t *testing.T) {
	tests := []struct {
		name string
		link string
	}{
		{name: "other host", link: "https://evil.example/api/data/v9.2/contacts?$skiptoken=1"},
		{name: "other scheme", link: "https://127.0.0.1/api/data/v9.2/contacts"},
		{name: "outside the API root", link: "{base}/other/contacts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeDataverse(t, answer{status: 200, body: `{"value":[]}`})
			c, _ := newTestClient(t, f.srv.URL, nil)
			link := tt.link
			if link == "{base}/other/contacts" {
				link = f.srv.URL + "/other/contacts"
			}
			_, err := c.NextPage(context.Background(), &Page{NextLink: link})
			var e *Error
			if !errors.As(err, &e) || !e.NotSent {
				t.Fatalf("err = %v, want a NotSent *Error", err)
			}
			if n := len(f.requests()); n != 0 {
				t.Errorf("sent %d requests, want none", n)
			}
		})
	}
}

// TestErrorsFromDataverse decodes error answers into *Error with the right
// sentinel, and does not resend requests that cannot succeed.
func TestErrorsFromDataverse(t *testing.T) {
	tests := []struct {
		name     string
		answer   answer
		sentinel error
		code     string
		message  string
	}{
		{
			name:     "malformed query: Dataverse's 400 message, nothing resent",
			answer:   answer{status: 400, body: `{"error":{"code":"0x80060888","message":"Syntax error at position 12 in 'telephone1 eq'."}}`},
			sentinel: ErrBadRequest, code: "0x80060888", message: "Syntax error at position 12 in 'telephone1 eq'.",
		},
		{
			name:     "missing record",
			answer:   answer{status: 404, body: `{"error":{"code":"0x80040217","message":"contact With Id = 0d4b6a4e Does Not Exist"}}`},
			sentinel: ErrNotFound, code: "0x80040217", message: "contact With Id = 0d4b6a4e Does Not Exist",
		},
		{
			name:     "missing privilege",
			answer:   answer{status: 403, body: `{"error":{"code":"0x80040220","message":"Principal user is missing prvReadContact privilege"}}`},
			sentinel: ErrForbidden, code: "0x80040220", message: "Principal user is missing prvReadContact privilege",
		},
		{
			name:     "server error is not resent",
			answer:   answer{status: 500, body: `<html>plugin failed</html>`},
			sentinel: nil, message: "<html>plugin failed</html>",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeDataverse(t, tt.answer)
			c, sleeps := newTestClient(t, f.srv.URL, nil)
			_, err := c.RetrieveMultiple(context.Background(), "contacts", "?$filter=telephone1 eq '1'")
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if tt.sentinel != nil && !errors.Is(err, tt.sentinel) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.sentinel)
			}
			if e.Status != tt.answer.status || e.Code != tt.code || e.Message != tt.message || e.Retryable() || e.NotSent {
				t.Errorf("error = %+v", e)
			}
			if e.Op != "RetrieveMultiple" || e.Method != "GET" || e.URL != f.srv.URL+"/api/data/v9.2/contacts?$filter=telephone1%20eq%20'1'" {
				t.Errorf("error identifies %s %s %s", e.Op, e.Method, e.URL)
			}
			if n := len(f.requests()); n != 1 {
				t.Errorf("sent %d requests, want 1", n)
			}
			if w := sleeps.recorded(); len(w) != 0 {
				t.Errorf("waited %v, want no waits", w)
			}
		})
	}
}

// TestRefusedBeforeSending: requests the client can tell are wrong are
// ErrBadRequest errors with NotSent, and nothing reaches Dataverse.
func TestRefusedBeforeSending(t *testing.T) {
	tests := []struct {
		name string
		call func(ctx context.Context, c *Client) error
		want string
	}{
		{
			name: "bad percent escape in the query",
			call: func(ctx context.Context, c *Client) error {
				_, err := c.RetrieveMultiple(ctx, "contacts", "?$filter=name eq '100%'")
				return err
			},
			want: `not a percent escape`,
		},
		{
			name: "query option twice",
			call: func(ctx context.Context, c *Client) error {
				_, err := c.RetrieveMultiple(ctx, "contacts", "?$top=1&$top=2")
				return err
			},
			want: "$top is given more than once",
		},
		{
			name: "entity set with a slash",
			call: func(ctx context.Context, c *Client) error {
				_, err := c.RetrieveMultiple(ctx, "contacts/../systemusers", "")
				return err
			},
			want: "entitySet:",
		},
		{
			name: "id that is not a GUID",
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Retrieve(ctx, "contacts", "1 or 1=1", "")
				return err
			},
			want: "ID:",
		},
		{
			name: "ref with both id and key",
			call: func(ctx context.Context, c *Client) error {
				return c.Update(ctx, Ref{EntitySet: "contacts", ID: contactID, KeyColumn: "emailaddress1", KeyValue: "a@b"}, map[string]any{})
			},
			want: "not both",
		},
		{
			name: "upsert without key column",
			call: func(ctx context.Context, c *Client) error {
				_, _, err := c.Upsert(ctx, "phonecalls", "", "IX-1", map[string]any{})
				return err
			},
			want: "keyColumn:",
		},
		{
			name: "body that is not JSON",
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Create(ctx, "contacts", []byte("{oops"))
				return err
			},
			want: "body: not valid JSON",
		},
		{
			name: "impersonating a non-GUID",
			call: func(ctx context.Context, c *Client) error {
				return c.Delete(WithCallerObjectID(ctx, "alice@contoso.com"), ByID("contacts", contactID))
			},
			want: "CallerObjectId:",
		},
		{
			name: "completing a phone call with a task status",
			call: func(ctx context.Context, c *Client) error {
				return c.Complete(ctx, "phonecall", ByID("phonecalls", callID), TaskCompleted)
			},
			want: "statusCode: 5 is not a Completed status of phonecall",
		},
		{
			name: "completing an unsupported table",
			call: func(ctx context.Context, c *Client) error {
				return c.Complete(ctx, "email", ByID("emails", callID), 2)
			},
			want: `entity: "email"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeDataverse(t, answer{status: 204})
			c, _ := newTestClient(t, f.srv.URL, nil)
			err := tt.call(context.Background(), c)
			var e *Error
			if !errors.As(err, &e) || !e.NotSent || !errors.Is(err, ErrBadRequest) || e.Retryable() {
				t.Fatalf("err = %v, want a NotSent ErrBadRequest *Error", err)
			}
			if !strings.Contains(e.Message, tt.want) {
				t.Errorf("message %q does not say %q", e.Message, tt.want)
			}
			if n := len(f.requests()); n != 0 {
				t.Errorf("sent %d requests, want none", n)
			}
		})
	}
}

// TestUnusableAnswers: a 2xx the client cannot use is an error, not a
// made-up result.
func TestUnusableAnswers(t *testing.T) {
	tests := []struct {
		name   string
		answer answer
		call   func(ctx context.Context, c *Client) error
	}{
		{
			name:   "create without OData-EntityId",
			answer: answer{status: 204},
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Create(ctx, "contacts", map[string]any{})
				return err
			},
		},
		{
			name:   "upsert answered 204 without the record",
			answer: answer{status: 204, header: map[string]string{"OData-EntityId": "{base}/api/data/v9.2/phonecalls(" + callID + ")"}},
			call: func(ctx context.Context, c *Client) error {
				_, _, err := c.Upsert(ctx, "phonecalls", "new_agentinteractionid", "IX-1", map[string]any{})
				return err
			},
		},
		{
			name:   "collection without value",
			answer: answer{status: 200, body: `{"error":null}`},
			call: func(ctx context.Context, c *Client) error {
				_, err := c.RetrieveMultiple(ctx, "contacts", "")
				return err
			},
		},
		{
			name:   "record that is not JSON",
			answer: answer{status: 200, body: `<html>`},
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Retrieve(ctx, "contacts", contactID, "")
				return err
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeDataverse(t, tt.answer)
			c, _ := newTestClient(t, f.srv.URL, nil)
			err := tt.call(context.Background(), c)
			var e *Error
			if !errors.As(err, &e) || !strings.Contains(e.Message, "unexpected answer") {
				t.Fatalf("err = %v, want an unexpected-answer *Error", err)
			}
		})
	}
}
