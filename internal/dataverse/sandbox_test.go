package dataverse

// These tests run the client against the sandbox CRM over real HTTP, with
// OAuth2 on: what the unit tests assert about the wire format, checked
// against a Dataverse-compatible server.

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/internal/sandbox"
	"github.com/ctibridge/ctibridge/internal/sandbox/sandboxtest"
	"github.com/ctibridge/ctibridge/internal/testclock"
)

const (
	sandboxClient = "app-1"
	sandboxSecret = "sandbox-secret-1"
	otherClient   = "app-2"
)

type sandboxEnv struct {
	c      *Client
	sb     *sandbox.Sandbox
	sleeps *sleepRecorder
	clock  *testclock.Clock
}

// newSandboxEnv starts a sandbox demanding tokens, with the reference
// config's alternate key, and a client logged in as app-1.
func newSandboxEnv(t *testing.T, configure func(*sandbox.Options, *Config)) sandboxEnv {
	t.Helper()
	clock := testclock.New(time.Now())
	opts := sandbox.Options{
		AlternateKey: "new_agentinteractionid",
		ExtraColumns: []string{"new_wrapcode"},
		RequireAuth:  true,
		Clients:      map[string]string{sandboxClient: sandboxSecret, otherClient: "sandbox-secret-2"},
		Now:          clock.Now,
	}
	var cfg Config
	if configure != nil {
		configure(&opts, &cfg)
	}
	sb, srv := sandboxtest.NewTestServer(t, opts)
	c, sleeps := newTestClient(t, srv.URL, func(c *Config) {
		*c = cfg
		c.OrgURL = srv.URL
		c.HTTPClient = noKeepAlive()
		c.ClientID = sandboxClient
		c.ClientSecret = sandboxSecret
		c.TokenURL = srv.URL + "/tenant-1/oauth2/v2.0/token"
	})
	return sandboxEnv{c: c, sb: sb, sleeps: sleeps, clock: clock}
}

// count returns how many records of entitySet match filter.
func (e sandboxEnv) count(t *testing.T, entitySet, filter string) int {
	t.Helper()
	q := "?$count=true&$select=createdon"
	if filter != "" {
		q += "&$filter=" + filter
	}
	page, err := e.c.RetrieveMultiple(context.Background(), entitySet, q)
	if err != nil {
		t.Fatalf("counting %s: %v", entitySet, err)
	}
	return page.Count
}

// TestSandboxCallLifecycle walks the writes a call makes: find the caller,
// log the call by interaction id, complete it, and clean up.
func TestSandboxCallLifecycle(t *testing.T) {
	env := newSandboxEnv(t, nil)
	c, ctx := env.c, context.Background()

	contactID, err := c.Create(ctx, "contacts", map[string]any{"firstname": "Ann", "lastname": "Lee", "telephone1": "0299990000"})
	if err != nil {
		t.Fatalf("Create contact: %v", err)
	}
	page, err := c.RetrieveMultiple(ctx, "contacts", "?$select=fullname,telephone1&$filter=telephone1 eq '0299990000'&$search=0299990000")
	if err != nil {
		t.Fatalf("screen pop query: %v", err)
	}
	if len(page.Records) != 1 || page.Records[0]["contactid"] != contactID || page.Records[0]["fullname"] != "Ann Lee" {
		t.Fatalf("screen pop found %v, want Ann Lee %s", page.Records, contactID)
	}

	call := map[string]any{
		"subject": "Call from 0299990000", "phonenumber": "0299990000", "directioncode": false,
		"regardingobjectid_contact_phonecall@odata.bind": Bind("contacts", contactID),
	}
	callID, created, err := c.Upsert(ctx, "phonecalls", "new_agentinteractionid", "IX-1", call)
	if err != nil || !created {
		t.Fatalf("first Upsert = %q, created %v, %v; want a new record", callID, created, err)
	}
	again, created, err := c.Upsert(ctx, "phonecalls", "new_agentinteractionid", "IX-1", map[string]any{"description": "wrap: sale", "new_wrapcode": "SALE"})
	if err != nil || created || again != callID {
		t.Fatalf("second Upsert = %q, created %v, %v; want the same record %s updated", again, created, err, callID)
	}
	if _, err := c.CreateOnly(ctx, "phonecalls", "new_agentinteractionid", "IX-1", call); !errors.Is(err, ErrAlreadyExists) {
		t.Fatalf("CreateOnly of a taken key: %v, want ErrAlreadyExists", err)
	}

	if err := c.Complete(ctx, "phonecall", ByKey("phonecalls", "new_agentinteractionid", "IX-1"), PhoneCallReceived); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	rec, err := c.Retrieve(ctx, "phonecalls", callID, "?$select=statecode,statuscode,description,new_wrapcode,_regardingobjectid_value")
	if err != nil {
		t.Fatalf("Retrieve: %v", err)
	}
	for k, want := range map[string]any{"statecode": json.Number("1"), "statuscode": json.Number("4"), "description": "wrap: sale", "new_wrapcode": "SALE", "_regardingobjectid_value": contactID} {
		if rec[k] != want {
			t.Errorf("phone call %s = %#v, want %#v", k, rec[k], want)
		}
	}
	if err := c.Update(ctx, ByID("phonecalls", callID), map[string]any{"subject": "changed"}); !errors.Is(err, ErrBadRequest) {
		t.Errorf("updating a completed call: %v, want ErrBadRequest (read-only)", err)
	}

	if err := c.Delete(ctx, ByID("phonecalls", callID)); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := c.Retrieve(ctx, "phonecalls", callID, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("Retrieve after Delete: %v, want ErrNotFound", err)
	}
	if err := c.Update(ctx, ByID("contacts", "00000000-0000-0000-0000-0000000000ff"), map[string]any{"lastname": "x"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("update-only PATCH of a missing record: %v, want ErrNotFound", err)
	}
	if n := env.count(t, "contacts", "lastname eq 'x'"); n != 0 {
		t.Errorf("the update-only PATCH created %d records", n)
	}

	// Every request the client counted reached the sandbox, token included.
	st, sst := c.Stats(), env.sb.Stats()
	if st.TokenRequests != 1 || int64(st.Requests+st.TokenRequests) != sst.Total {
		t.Errorf("client counted %d requests and %d token requests, the sandbox %d", st.Requests, st.TokenRequests, sst.Total)
	}
}

// TestSandboxUpsertIsIdempotent: the same upsert twice leaves one record,
// whatever the key holds.
func TestSandboxUpsertIsIdempotent(t *testing.T) {
	tests := []struct {
		name string
		key  string
	}{
		{name: "plain key", key: "IX-100"},
		{name: "key with a quote and a space", key: "O'Brien IX 1"},
		{name: "key with non-ASCII", key: "Zoë-ü"},
	}
	env := newSandboxEnv(t, nil)
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ids []string
			for i := range 2 {
				id, created, err := env.c.Upsert(ctx, "tasks", "new_agentinteractionid", tt.key, map[string]any{"subject": "Follow up " + tt.key})
				if err != nil {
					t.Fatalf("Upsert %d: %v", i+1, err)
				}
				if created != (i == 0) {
					t.Errorf("Upsert %d created = %v, want %v", i+1, created, i == 0)
				}
				ids = append(ids, id)
			}
			if ids[0] != ids[1] {
				t.Errorf("ids %v differ", ids)
			}
			if n := env.count(t, "tasks", "new_agentinteractionid eq '"+strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(tt.key, "'", "''"), "+", "%2B"), "#", "%23"), " ", "%20")+"'"); n != 1 {
				t.Errorf("%d tasks with key %q, want 1", n, tt.key)
			}
			rec, err := env.c.RetrieveRef(ctx, ByKey("tasks", "new_agentinteractionid", tt.key), "?$select=new_agentinteractionid")
			if err != nil || rec["new_agentinteractionid"] != tt.key || rec["activityid"] != ids[0] {
				t.Errorf("RetrieveRef = %v, %v; want the record with key %q", rec, err, tt.key)
			}
		})
	}
}

// TestSandboxBatch: a change set creates a contact, a call regarding it
// (Content-ID reference) and completes the call; a failing change set
// leaves nothing behind.
func TestSandboxBatch(t *testing.T) {
	env := newSandboxEnv(t, nil)
	c, ctx := env.c, context.Background()

	responses, err := c.Batch(ctx, []BatchRequest{
		BatchCreate("contacts", map[string]any{"firstname": "Bo", "lastname": "Chan", "telephone1": "0355550000"}).InChangeSet("1"),
		BatchCreate("phonecalls", map[string]any{
			"subject": "Call", "directioncode": true, "new_agentinteractionid": "IX-B1",
			"regardingobjectid_contact_phonecall@odata.bind": "$1",
		}).InChangeSet("2"),
		{Method: http.MethodPatch, Path: "$2", Header: http.Header{"If-Match": {"*"}}, Body: map[string]int{"statecode": 1, "statuscode": PhoneCallMade}, ChangeSet: true, ContentID: "3"},
		BatchGet("phonecalls", "?$select=subject,statuscode&$filter=new_agentinteractionid eq 'IX-B1'"),
	})
	if err != nil {
		t.Fatalf("Batch: %v", err)
	}
	if len(responses) != 4 {
		t.Fatalf("%d responses, want 4: %+v", len(responses), responses)
	}
	var statuses, contentIDs []string
	for _, r := range responses {
		statuses = append(statuses, http.StatusText(r.Status))
		contentIDs = append(contentIDs, r.ContentID)
	}
	if !reflect.DeepEqual(contentIDs, []string{"1", "2", "3", ""}) || responses[0].Status != 204 || responses[1].Status != 204 || responses[2].Status != 204 || responses[3].Status != 200 {
		t.Errorf("responses: statuses %v Content-IDs %v", statuses, contentIDs)
	}
	contactID, err := responses[0].EntityID()
	if err != nil {
		t.Fatal(err)
	}
	callID, err := responses[1].EntityID()
	if err != nil {
		t.Fatal(err)
	}
	page, err := responses[3].Page()
	if err != nil || len(page.Records) != 1 || page.Records[0]["statuscode"] != json.Number("2") || page.Records[0]["activityid"] != callID {
		t.Errorf("GET in the batch = %+v, %v; want the completed call", page, err)
	}
	rec, err := c.Retrieve(ctx, "phonecalls", callID, "?$select=_regardingobjectid_value,statecode")
	if err != nil || rec["_regardingobjectid_value"] != contactID || rec["statecode"] != json.Number("1") {
		t.Errorf("call = %v, %v; want completed and regarding %s", rec, err, contactID)
	}

	// A change set whose second request fails rolls back the first.
	before := env.count(t, "contacts", "")
	responses, err = c.Batch(ctx, []BatchRequest{
		BatchCreate("contacts", map[string]any{"lastname": "Rolled back"}).InChangeSet("1"),
		BatchUpdate(ByID("phonecalls", "00000000-0000-0000-0000-0000000000ff"), map[string]any{"subject": "x"}).InChangeSet("2"),
	})
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrNotFound) || e.Message == "" {
		t.Fatalf("failing change set: %v, want ErrNotFound with the sandbox's message", err)
	}
	if len(responses) != 1 || responses[0].Status != 404 {
		t.Errorf("responses = %+v, want the failing request's 404 alone", responses)
	}
	if after := env.count(t, "contacts", ""); after != before {
		t.Errorf("contacts went from %d to %d; the change set was not atomic", before, after)
	}
}

// TestSandboxMalformedQuery: Dataverse's 400 comes back typed with its
// message, is not resent, and nothing is written.
func TestSandboxMalformedQuery(t *testing.T) {
	tests := []struct {
		name string
		call func(ctx context.Context, c *Client) error
	}{
		{
			name: "filter that does not parse",
			call: func(ctx context.Context, c *Client) error {
				_, err := c.RetrieveMultiple(ctx, "contacts", "?$select=fullname&$filter=telephone1 eq")
				return err
			},
		},
		{
			name: "unknown column",
			call: func(ctx context.Context, c *Client) error {
				_, err := c.RetrieveMultiple(ctx, "contacts", "?$select=nosuchcolumn")
				return err
			},
		},
		{
			name: "create whose returned columns do not exist",
			call: func(ctx context.Context, c *Client) error {
				_, err := c.CreateAndReturn(ctx, "contacts", map[string]any{"lastname": "Never"}, "?$select=nosuchcolumn")
				return err
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newSandboxEnv(t, nil)
			before := env.count(t, "contacts", "")
			env.sb.ResetStats()
			err := tt.call(context.Background(), env.c)
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrBadRequest) || e.NotSent || e.Retryable() {
				t.Fatalf("err = %v, want Dataverse's ErrBadRequest", err)
			}
			if e.Code == "" || e.Message == "" || !strings.Contains(err.Error(), e.Message) {
				t.Errorf("error %q lacks the sandbox's code or message", err)
			}
			if st := env.sb.Stats(); st.Total != 1 {
				t.Errorf("the sandbox saw %d requests, want 1 (no resend)", st.Total)
			}
			if after := env.count(t, "contacts", ""); after != before {
				t.Errorf("contacts went from %d to %d", before, after)
			}
		})
	}
}

// TestSandboxFaults drives the retry policy with the sandbox's fault
// injection: 429 with Retry-After, 503, dropped connections.
func TestSandboxFaults(t *testing.T) {
	readContacts := func(ctx context.Context, c *Client) error {
		_, err := c.RetrieveMultiple(ctx, "contacts", "?$select=fullname")
		return err
	}
	createContact := func(ctx context.Context, c *Client) error {
		_, err := c.Create(ctx, "contacts", map[string]any{"lastname": "Faulty"})
		return err
	}
	tests := []struct {
		name        string
		faults      sandbox.Faults
		maxAttempts int
		call        func(ctx context.Context, c *Client) error
		wantWaits   []time.Duration
		wantErr     error
		// wantCreated is how many "Faulty" contacts exist afterwards.
		wantCreated int
	}{
		{
			name:      "throttled twice with Retry-After 1",
			faults:    sandbox.Faults{ThrottleCount: 2, RetryAfterSeconds: 1},
			call:      readContacts,
			wantWaits: durations(time.Second, time.Second),
		},
		{
			name:        "a throttled create is resent and creates once",
			faults:      sandbox.Faults{ThrottleCount: 1, RetryAfterSeconds: 2, Methods: []string{"POST"}},
			call:        createContact,
			wantWaits:   durations(2 * time.Second),
			wantCreated: 1,
		},
		{
			name:      "unavailable once",
			faults:    sandbox.Faults{UnavailableCount: 1},
			call:      readContacts,
			wantWaits: durations(250 * time.Millisecond),
		},
		{
			name:      "a read survives a dropped connection",
			faults:    sandbox.Faults{DropCount: 1},
			call:      readContacts,
			wantWaits: durations(250 * time.Millisecond),
		},
		{
			name:    "a create is not resent after a dropped connection",
			faults:  sandbox.Faults{DropCount: 1, Methods: []string{"POST"}},
			call:    createContact,
			wantErr: errNetwork,
		},
		{
			name:        "throttled past the attempt budget",
			faults:      sandbox.Faults{ThrottleCount: 5, RetryAfterSeconds: 3},
			maxAttempts: 3,
			call:        readContacts,
			wantWaits:   durations(3*time.Second, 3*time.Second),
			wantErr:     ErrThrottled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newSandboxEnv(t, func(_ *sandbox.Options, c *Config) { c.MaxAttempts = tt.maxAttempts })
			ctx := context.Background()
			// Fetch the token first so faults hit only the call under test.
			if _, err := env.c.RetrieveMultiple(ctx, "contacts", "?$top=1"); err != nil {
				t.Fatal(err)
			}
			if err := env.sb.SetFaults(tt.faults); err != nil {
				t.Fatal(err)
			}
			err := tt.call(ctx, env.c)
			switch {
			case tt.wantErr == errNetwork:
				var e *Error
				if !errors.As(err, &e) || e.Status != 0 || e.Err == nil || e.Attempts != 1 {
					t.Fatalf("err = %v, want a network error after one attempt", err)
				}
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
			case err != nil:
				t.Fatalf("err = %v, want success", err)
			}
			if got := env.sleeps.recorded(); !reflect.DeepEqual(got, tt.wantWaits) {
				t.Errorf("waits = %v, want %v", got, tt.wantWaits)
			}
			if err := env.sb.SetFaults(sandbox.Faults{}); err != nil {
				t.Fatal(err)
			}
			if n := env.count(t, "contacts", "lastname eq 'Faulty'"); n != tt.wantCreated {
				t.Errorf("%d contacts created, want %d", n, tt.wantCreated)
			}
		})
	}
}

// errNetwork marks an expected network failure in TestSandboxFaults.
var errNetwork = errors.New("network failure")

// TestSandboxTokenRefresh: when the sandbox rejects a token the client
// still thinks valid (its clock moved past expiry), the client fetches a new
// one and the call succeeds.
func TestSandboxTokenRefresh(t *testing.T) {
	env := newSandboxEnv(t, nil)
	ctx := context.Background()
	if _, err := env.c.RetrieveMultiple(ctx, "contacts", "?$top=1"); err != nil {
		t.Fatal(err)
	}
	env.clock.Advance(2 * time.Hour)
	if _, err := env.c.RetrieveMultiple(ctx, "contacts", "?$top=1"); err != nil {
		t.Fatalf("after the token expired on the server: %v", err)
	}
	if st := env.c.Stats(); st.TokenRequests != 2 || st.Requests != 3 {
		t.Errorf("stats = %+v, want 2 token requests and 3 Dataverse requests (one refused)", st)
	}
}

// TestSandboxWrongSecret: refused credentials are ErrUnauthorized with
// Entra's message, and no Dataverse request is made.
func TestSandboxWrongSecret(t *testing.T) {
	env := newSandboxEnv(t, nil)
	env.c.tokens.cfg.ClientSecret = "wrong"
	_, err := env.c.RetrieveMultiple(context.Background(), "contacts", "")
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrUnauthorized) || e.Code != "invalid_client" || !strings.Contains(e.Message, "AADSTS7000215") {
		t.Fatalf("err = %v, want invalid_client", err)
	}
	if strings.Contains(err.Error(), "wrong") || strings.Contains(err.Error(), sandboxSecret) {
		t.Errorf("error %q shows a secret", err)
	}
	if st := env.c.Stats(); st.Requests != 0 {
		t.Errorf("%d Dataverse requests, want 0", st.Requests)
	}
}

// TestSandboxImpersonation: records written under impersonation are owned
// by the impersonated user.
func TestSandboxImpersonation(t *testing.T) {
	tests := []struct {
		name      string
		ctx       func(context.Context) context.Context
		wantOwner string
	}{
		{name: "no impersonation: the application user", ctx: func(ctx context.Context) context.Context { return ctx }, wantOwner: sandbox.AppUserID(sandboxClient)},
		{name: "by Entra object id", ctx: func(ctx context.Context) context.Context {
			return WithCallerObjectID(ctx, sandbox.AppUserObjectID(otherClient))
		}, wantOwner: sandbox.AppUserID(otherClient)},
		{name: "by systemuserid in braces", ctx: func(ctx context.Context) context.Context {
			return WithCallerSystemUserID(ctx, "{"+strings.ToUpper(sandbox.DefaultUserID)+"}")
		}, wantOwner: sandbox.DefaultUserID},
	}
	env := newSandboxEnv(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := tt.ctx(context.Background())
			id, err := env.c.Create(ctx, "contacts", map[string]any{"lastname": tt.name})
			if err != nil {
				t.Fatal(err)
			}
			rec, err := env.c.Retrieve(context.Background(), "contacts", id, "?$select=_ownerid_value")
			if err != nil || rec["_ownerid_value"] != tt.wantOwner {
				t.Errorf("owner = %v (%v), want %s", rec["_ownerid_value"], err, tt.wantOwner)
			}
		})
	}
}

// TestSandboxPaging follows the sandbox's next links through every page.
func TestSandboxPaging(t *testing.T) {
	env := newSandboxEnv(t, func(o *sandbox.Options, c *Config) {
		o.Seed, o.SeedContacts = true, 25
		c.PageSize = 10
	})
	ctx := context.Background()
	total := env.count(t, "contacts", "")
	seen := map[any]bool{}
	pages := 0
	page, err := env.c.RetrieveMultiple(ctx, "contacts", "?$select=fullname&$orderby=fullname")
	for page != nil && err == nil {
		pages++
		if len(page.Records) > 10 {
			t.Errorf("page %d has %d records, want at most 10", pages, len(page.Records))
		}
		for _, r := range page.Records {
			seen[r["contactid"]] = true
		}
		page, err = env.c.NextPage(ctx, page)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != total || pages != (total+9)/10 {
		t.Errorf("read %d distinct contacts in %d pages, want %d in %d", len(seen), pages, total, (total+9)/10)
	}
}

// TestKeyValuesDataverseCannotAddressAreRefused: Microsoft documents that
// GET and PATCH by an alternate key value holding / # < > * % & : \ ? +
// do not work, encoded or not; the client says so before sending.
func TestKeyValuesDataverseCannotAddressAreRefused(t *testing.T) {
	env := newSandboxEnv(t, nil)
	ctx := context.Background()
	for _, c := range strings.Split(UnaddressableKeyChars, "") {
		key := "IX" + c + "1"
		_, _, err := env.c.Upsert(ctx, "tasks", "new_agentinteractionid", key, map[string]any{"subject": "x"})
		var de *Error
		if !errors.As(err, &de) || !de.NotSent || !errors.Is(err, ErrBadRequest) {
			t.Errorf("Upsert by %q: %v, want it refused before sending", key, err)
		}
	}
}
