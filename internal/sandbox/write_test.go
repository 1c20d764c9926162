package sandbox_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ctibridge/ctibridge/internal/sandbox"
)

func TestCreate(t *testing.T) {
	_, srv := newServer(t, seeded())
	olivia := sandbox.DemoNumberByKey("single-contact").Records[0].ID
	tests := []struct {
		name   string
		set    string
		body   string
		header []string
		status int
		code   string
		msg    string
		check  func(t *testing.T, r response)
	}{
		{name: "create returns 204 and OData-EntityId", set: "contacts", body: `{"firstname":"Zed","lastname":"Zulu"}`, status: 204,
			check: func(t *testing.T, r response) {
				if !strings.Contains(r.header.Get("OData-EntityId"), api+"contacts(") {
					t.Errorf("OData-EntityId = %q", r.header.Get("OData-EntityId"))
				}
			}},
		{name: "return=representation gives 201 and the record", set: "contacts" + q("$select", "fullname"),
			body: `{"firstname":"Yara","lastname":"Young"}`, header: []string{"Prefer", "return=representation"}, status: 201,
			check: func(t *testing.T, r response) {
				m := r.json(t)
				if m["fullname"] != "Yara Young" {
					t.Errorf("fullname = %v, want the computed \"Yara Young\"", m["fullname"])
				}
				if r.header.Get("Preference-Applied") != "return=representation" {
					t.Errorf("Preference-Applied = %q", r.header.Get("Preference-Applied"))
				}
			}},
		{name: "client-chosen id", set: "accounts", body: `{"accountid":"11111111-2222-4333-8444-555555555555","name":"Chosen"}`, status: 204,
			check: func(t *testing.T, r response) {
				if !strings.HasSuffix(r.header.Get("OData-EntityId"), "accounts(11111111-2222-4333-8444-555555555555)") {
					t.Errorf("OData-EntityId = %q", r.header.Get("OData-EntityId"))
				}
			}},
		{name: "existing id", set: "contacts", body: `{"contactid":"` + olivia + `"}`, status: 412, code: "0x80040237", msg: "A record with matching key values already exists."},
		{name: "unknown property", set: "contacts", body: `{"nickname":"x"}`, status: 400, code: "0x80048d19", msg: "The property 'nickname' does not exist on type 'Microsoft.Dynamics.CRM.contact'."},
		{name: "string where a number belongs", set: "phonecalls", body: `{"subject":"x","actualdurationminutes":"five"}`, status: 400, code: "0x80048d19", msg: "Edm.Int32"},
		{name: "number where a string belongs", set: "contacts", body: `{"telephone1":299990000}`, status: 400, code: "0x80048d19", msg: "Edm.String"},
		{name: "string where a boolean belongs", set: "contacts", body: `{"donotphone":"yes"}`, status: 400, code: "0x80048d19", msg: "Edm.Boolean"},
		{name: "bad date", set: "phonecalls", body: `{"actualstart":"yesterday"}`, status: 400, code: "0x80048d19", msg: "Edm.DateTimeOffset"},
		{name: "out of range", set: "phonecalls", body: `{"actualdurationminutes":-1}`, status: 400, code: "0x80044331", msg: "outside the valid range"},
		{name: "too long", set: "phonecalls", body: `{"subject":"` + strings.Repeat("x", 201) + `"}`, status: 400, code: "0x80044331",
			msg: "The length of the 'subject' attribute of the 'phonecall' entity exceeded the maximum allowed length of '200'."},
		{name: "malformed JSON", set: "contacts", body: `{"firstname":`, status: 400, code: "0x80048d19", msg: "Invalid JSON"},
		{name: "JSON array", set: "contacts", body: `[1]`, status: 400, code: "0x80048d19"},
		{name: "lookup value written directly", set: "contacts", body: `{"_parentcustomerid_value":"` + olivia + `"}`, status: 400,
			msg: "CRM do not support direct update of Entity Reference properties, Use Navigation properties instead."},
		{name: "bind to a missing record", set: "phonecalls",
			body:   `{"subject":"x","regardingobjectid_contact_phonecall@odata.bind":"/contacts(00000000-0000-0000-0000-0000000000ff)"}`,
			status: 404, code: "0x80040217", msg: "contact With Id = 00000000-0000-0000-0000-0000000000ff Does Not Exist"},
		{name: "bind through an undeclared navigation property", set: "phonecalls",
			body:   `{"subject":"x","regardingobjectid_contact@odata.bind":"/contacts(` + olivia + `)"}`,
			status: 400, code: "0x80048d19", msg: "An undeclared property 'regardingobjectid_contact'"},
		{name: "bind to the wrong entity set", set: "contacts",
			body:   `{"parentcustomerid_account@odata.bind":"/contacts(` + olivia + `)"}`,
			status: 400, msg: "binds a account"},
		{name: "bind with an absolute URL", set: "phonecalls",
			body: `{"subject":"x","regardingobjectid_contact_phonecall@odata.bind":"` + srv.URL + api + `contacts(` + olivia + `)"}`, status: 204},
		{name: "bind to an unknown entity set", set: "contacts", body: `{"parentcustomerid_account@odata.bind":"/widgets(` + olivia + `)"}`, status: 404},
		{name: "statecode on create is ignored", set: "phonecalls" + q("$select", "statecode,statuscode"),
			body: `{"subject":"x","statecode":1}`, header: []string{"Prefer", "return=representation"}, status: 201,
			check: func(t *testing.T, r response) {
				m := r.json(t)
				if m["statecode"] != float64(0) || m["statuscode"] != float64(1) {
					t.Errorf("state = %v/%v, want 0/1 (open)", m["statecode"], m["statuscode"])
				}
			}},
		{name: "closed statuscode on create", set: "phonecalls", body: `{"subject":"x","statuscode":2}`, status: 400, code: "0x80040203",
			msg: "2 is not a valid status code for state code PhoneCallState.Open"},
		{name: "open task status on create", set: "tasks", body: `{"subject":"x","statuscode":3}`, status: 204},
		{name: "activity parties are not created directly", set: "activityparties", body: `{"participationtypemask":1}`, status: 400},
		{name: "POST to a record", set: "contacts(" + olivia + ")", body: `{}`, status: 405},
		{name: "empty body", set: "contacts", body: ` `, status: 400, code: "0x80048d19"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.body
			r := call(t, srv, "POST", api+tt.set, body, tt.header...)
			if tt.status >= 400 {
				wantError(t, r, tt.status, tt.code, tt.msg)
			} else {
				wantStatus(t, r, tt.status)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func TestCreateSetsOwnerAndEmptyStringsAreNull(t *testing.T) {
	_, srv := newServer(t, testOptions())
	id := createRecord(t, srv, "contacts", `{"firstname":"Nia","lastname":"","telephone1":""}`)
	m := call(t, srv, "GET", api+"contacts("+id+")", "").json(t)
	if m["lastname"] != nil || m["telephone1"] != nil {
		t.Errorf("empty strings stored as %v/%v, want null (Dataverse stores \"\" as null)", m["lastname"], m["telephone1"])
	}
	if m["fullname"] != "Nia" {
		t.Errorf("fullname = %v, want Nia", m["fullname"])
	}
	if m["_ownerid_value"] != sandbox.DefaultUserID || m["_createdby_value"] != sandbox.DefaultUserID {
		t.Errorf("owner/createdby = %v/%v, want the default user", m["_ownerid_value"], m["_createdby_value"])
	}
	if m["createdon"] == nil || m["createdon"] != m["modifiedon"] {
		t.Errorf("createdon/modifiedon = %v/%v", m["createdon"], m["modifiedon"])
	}
}

func TestUpsert(t *testing.T) {
	_, srv := newServer(t, testOptions())
	existing := createRecord(t, srv, "phonecalls", `{"subject":"Existing","new_agentinteractionid":"IX-EXISTS"}`)
	etag := call(t, srv, "GET", api+"phonecalls("+existing+")", "").json(t)["@odata.etag"].(string)
	missing := "6a9e3d52-0000-4000-8000-000000000001"

	tests := []struct {
		name        string
		path        string
		body        string
		header      []string
		status      int
		code        string
		wantSubject string // subject stored at path afterwards ("" = record must not exist)
	}{
		{name: "no header creates a missing record by key", path: "phonecalls(" + missing + ")", body: `{"subject":"Made by upsert"}`, status: 204, wantSubject: "Made by upsert"},
		{name: "no header updates an existing record", path: "phonecalls(" + existing + ")", body: `{"subject":"Updated"}`, status: 204, wantSubject: "Updated"},
		{name: "no header creates by alternate key", path: "phonecalls(new_agentinteractionid='IX-NEW')", body: `{"subject":"New by key"}`, status: 204, wantSubject: "New by key"},
		{name: "no header updates by alternate key", path: "phonecalls(new_agentinteractionid='IX-EXISTS')", body: `{"subject":"Via key"}`, status: 204, wantSubject: "Via key"},
		{name: "If-Match * on a missing record is 404", path: "phonecalls(new_agentinteractionid='IX-GONE')", body: `{"subject":"x"}`, header: []string{"If-Match", "*"}, status: 404, code: "0x80040217"},
		{name: "If-Match * updates", path: "phonecalls(" + existing + ")", body: `{"subject":"Update only"}`, header: []string{"If-Match", "*"}, status: 204, wantSubject: "Update only"},
		{name: "If-None-Match * on an existing record is 412", path: "phonecalls(new_agentinteractionid='IX-EXISTS')", body: `{"subject":"x"}`, header: []string{"If-None-Match", "*"}, status: 412, code: "0x80040237", wantSubject: "Update only"},
		{name: "If-None-Match * creates", path: "phonecalls(new_agentinteractionid='IX-CREATE-ONLY')", body: `{"subject":"Create only"}`, header: []string{"If-None-Match", "*"}, status: 204, wantSubject: "Create only"},
		{name: "stale ETag is 412", path: "phonecalls(" + existing + ")", body: `{"subject":"x"}`, header: []string{"If-Match", etag}, status: 412, code: "0x80060882", wantSubject: "Update only"},
		{name: "representation of an upsert-create is 201", path: "phonecalls(new_agentinteractionid='IX-REPR')", body: `{"subject":"R"}`, header: []string{"Prefer", "return=representation"}, status: 201, wantSubject: "R"},
		{name: "representation of an update is 200", path: "phonecalls(new_agentinteractionid='IX-REPR')", body: `{"subject":"R2"}`, header: []string{"Prefer", "return=representation"}, status: 200, wantSubject: "R2"},
		{name: "PATCH on a collection is 405", path: "phonecalls", body: `{"subject":"x"}`, status: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, srv, "PATCH", api+tt.path, tt.body, tt.header...)
			if tt.status >= 400 {
				wantError(t, r, tt.status, tt.code, "")
			} else {
				wantStatus(t, r, tt.status)
				if r.header.Get("OData-EntityId") == "" {
					t.Error("no OData-EntityId on a successful PATCH")
				}
			}
			if tt.path == "phonecalls" {
				return
			}
			got := call(t, srv, "GET", api+tt.path+q("$select", "subject,new_agentinteractionid"), "")
			if tt.wantSubject == "" {
				wantStatus(t, got, 404)
				return
			}
			wantStatus(t, got, 200)
			if s := got.json(t)["subject"]; s != tt.wantSubject {
				t.Errorf("subject = %v, want %q", s, tt.wantSubject)
			}
			if strings.Contains(tt.path, "new_agentinteractionid='") {
				key := tt.path[strings.Index(tt.path, "'")+1 : strings.LastIndex(tt.path, "'")]
				if got.json(t)["new_agentinteractionid"] != key {
					t.Errorf("alternate key column = %v, want %q", got.json(t)["new_agentinteractionid"], key)
				}
			}
		})
	}

	// A current ETag lets the update through and changes the ETag.
	cur := call(t, srv, "GET", api+"phonecalls("+existing+")", "").json(t)["@odata.etag"].(string)
	wantStatus(t, call(t, srv, "PATCH", api+"phonecalls("+existing+")", `{"subject":"With etag"}`, "If-Match", cur), 204)
	if now := call(t, srv, "GET", api+"phonecalls("+existing+")", "").json(t)["@odata.etag"]; now == cur {
		t.Error("the ETag did not change on update")
	}
	// A duplicate alternate key on create is refused.
	wantError(t, call(t, srv, "POST", api+"phonecalls", `{"subject":"dup","new_agentinteractionid":"ix-exists"}`), 412, "0x80040237", "")
}

func TestActivityState(t *testing.T) {
	_, srv := newServer(t, testOptions())
	tests := []struct {
		name  string
		set   string
		steps []struct {
			body   string
			status int
		}
		wantState, wantStatus float64
	}{
		{name: "complete an outgoing call", set: "phonecalls", steps: []struct {
			body   string
			status int
		}{{`{"statecode":1,"statuscode":2,"description":"wrap notes","new_wrapcode":"SALE"}`, 204}}, wantState: 1, wantStatus: 2},
		{name: "complete a received call", set: "phonecalls", steps: []struct {
			body   string
			status int
		}{{`{"statecode":1,"statuscode":4}`, 204}}, wantState: 1, wantStatus: 4},
		{name: "state alone takes its default status", set: "phonecalls", steps: []struct {
			body   string
			status int
		}{{`{"statecode":2}`, 204}}, wantState: 2, wantStatus: 3},
		{name: "status of another state is refused", set: "phonecalls", steps: []struct {
			body   string
			status int
		}{{`{"statecode":1,"statuscode":3}`, 400}}, wantState: 0, wantStatus: 1},
		{name: "unknown state is refused", set: "phonecalls", steps: []struct {
			body   string
			status int
		}{{`{"statecode":7}`, 400}}, wantState: 0, wantStatus: 1},
		{name: "completed call is read-only", set: "phonecalls", steps: []struct {
			body   string
			status int
		}{{`{"statecode":1,"statuscode":2}`, 204}, {`{"subject":"late edit"}`, 400}, {`{"statecode":0,"subject":"reopen and edit"}`, 400}}, wantState: 1, wantStatus: 2},
		{name: "reopen then edit", set: "phonecalls", steps: []struct {
			body   string
			status int
		}{{`{"statecode":1,"statuscode":2}`, 204}, {`{"statecode":0}`, 204}, {`{"subject":"edited"}`, 204}}, wantState: 0, wantStatus: 1},
		{name: "complete a task", set: "tasks", steps: []struct {
			body   string
			status int
		}{{`{"statecode":1,"statuscode":5}`, 204}}, wantState: 1, wantStatus: 5},
		{name: "open task status change", set: "tasks", steps: []struct {
			body   string
			status int
		}{{`{"statuscode":3}`, 204}}, wantState: 0, wantStatus: 3},
		{name: "completed task status needs the state", set: "tasks", steps: []struct {
			body   string
			status int
		}{{`{"statuscode":5}`, 400}}, wantState: 0, wantStatus: 2},
		{name: "canceled task is read-only", set: "tasks", steps: []struct {
			body   string
			status int
		}{{`{"statecode":2,"statuscode":6}`, 204}, {`{"description":"x"}`, 400}}, wantState: 2, wantStatus: 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := createRecord(t, srv, tt.set, `{"subject":"`+tt.name+`"}`)
			for i, step := range tt.steps {
				r := call(t, srv, "PATCH", api+tt.set+"("+id+")", step.body, "If-Match", "*")
				if r.status != step.status {
					t.Fatalf("step %d %s: status %d, want %d\n%s", i, step.body, r.status, step.status, r.body)
				}
			}
			m := call(t, srv, "GET", api+tt.set+"("+id+")"+q("$select", "statecode,statuscode"), "").json(t)
			if m["statecode"] != tt.wantState || m["statuscode"] != tt.wantStatus {
				t.Errorf("state/status = %v/%v, want %v/%v", m["statecode"], m["statuscode"], tt.wantState, tt.wantStatus)
			}
		})
	}
}

func TestDelete(t *testing.T) {
	_, srv := newServer(t, testOptions())
	contact := createRecord(t, srv, "contacts", `{"firstname":"Del","lastname":"Eted"}`)
	call1 := createRecord(t, srv, "phonecalls", `{"subject":"about Del","regardingobjectid_contact_phonecall@odata.bind":"/contacts(`+contact+`)",
		"phonecall_activity_parties":[{"partyid_contact@odata.bind":"/contacts(`+contact+`)","participationtypemask":2}]}`)
	etag := call(t, srv, "GET", api+"contacts("+contact+")", "").json(t)["@odata.etag"].(string)
	wantStatus(t, call(t, srv, "PATCH", api+"contacts("+contact+")", `{"jobtitle":"x"}`), 204)

	wantError(t, call(t, srv, "DELETE", api+"contacts("+contact+")", "", "If-Match", etag), 412, "0x80060882", "RowVersion")
	wantStatus(t, call(t, srv, "DELETE", api+"contacts("+contact+")", ""), 204)
	wantError(t, call(t, srv, "DELETE", api+"contacts("+contact+")", ""), 404, "0x80040217", "Does Not Exist")
	wantStatus(t, call(t, srv, "GET", api+"contacts("+contact+")", ""), 404)

	pc := call(t, srv, "GET", api+"phonecalls("+call1+")", "").json(t)
	if pc["_regardingobjectid_value"] != nil {
		t.Errorf("regarding still points at the deleted contact: %v", pc["_regardingobjectid_value"])
	}
	parties := call(t, srv, "GET", api+"phonecalls("+call1+")/phonecall_activity_parties", "").values(t)
	for _, p := range parties {
		if p["_partyid_value"] == contact {
			t.Errorf("a party still points at the deleted contact: %v", p)
		}
	}
	wantStatus(t, call(t, srv, "DELETE", api+"phonecalls("+call1+")", ""), 204)
	if left := call(t, srv, "GET", api+"activityparties"+q("$filter", "_activityid_value eq "+call1), "").values(t); len(left) != 0 {
		t.Errorf("%d parties left after deleting their phone call", len(left))
	}
	wantStatus(t, call(t, srv, "DELETE", api+"contacts", ""), 405)
}

func TestActivityParties(t *testing.T) {
	_, srv := newServer(t, seeded())
	contact := sandbox.DemoNumberByKey("single-contact").Records[0].ID
	agent := sandbox.DemoAgents[0].SystemUserID
	pc := createRecord(t, srv, "phonecalls", `{
		"subject":"Inbound call","phonenumber":"+61299990000","directioncode":false,
		"regardingobjectid_contact_phonecall@odata.bind":"/contacts(`+contact+`)",
		"phonecall_activity_parties":[
			{"partyid_contact@odata.bind":"/contacts(`+contact+`)","participationtypemask":1},
			{"partyid_systemuser@odata.bind":"/systemusers(`+agent+`)","participationtypemask":2}
		]}`)

	masks := func(list []map[string]any) map[float64]string {
		out := map[float64]string{}
		for _, p := range list {
			out[p["participationtypemask"].(float64)] = p["_partyid_value"].(string)
		}
		return out
	}
	got := masks(call(t, srv, "GET", api+"phonecalls("+pc+")/phonecall_activity_parties", "").values(t))
	want := map[float64]string{1: contact, 2: agent, 8: contact, 9: sandbox.DefaultUserID}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("party %v = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	expanded := call(t, srv, "GET", api+"phonecalls("+pc+")"+q("$select", "subject", "$expand", "phonecall_activity_parties($select=participationtypemask,_partyid_value)"), "").json(t)
	if list, _ := expanded["phonecall_activity_parties"].([]any); len(list) != 4 {
		t.Errorf("$expand returned %d parties, want 4: %v", len(list), expanded)
	}
	// An upsert with parties replaces the client's parties, not the owner's.
	wantStatus(t, call(t, srv, "PATCH", api+"phonecalls("+pc+")",
		`{"phonecall_activity_parties":[{"partyid_contact@odata.bind":"/contacts(`+contact+`)","participationtypemask":2}]}`), 204)
	got = masks(call(t, srv, "GET", api+"phonecalls("+pc+")/phonecall_activity_parties", "").values(t))
	if len(got) != 3 || got[2] != contact || got[9] == "" || got[8] == "" {
		t.Errorf("parties after replacement = %v, want to:contact plus owner and regarding", got)
	}
	wantError(t, call(t, srv, "POST", api+"phonecalls", `{"phonecall_activity_parties":[{"participationtypemask":1}]}`), 400, "0x80048d19", "has no party")
	wantError(t, call(t, srv, "POST", api+"phonecalls", `{"phonecall_activity_parties":[{"partyid_contact@odata.bind":"/contacts(00000000-0000-0000-0000-0000000000ee)","participationtypemask":1}]}`), 404, "0x80040217", "")
	wantStatus(t, call(t, srv, "GET", api+"phonecalls(00000000-0000-0000-0000-0000000000ee)/phonecall_activity_parties", ""), 404)
	task := createRecord(t, srv, "tasks", `{"subject":"Preview","task_activity_parties":[{"partyid_contact@odata.bind":"/contacts(`+contact+`)","participationtypemask":11}]}`)
	if n := len(call(t, srv, "GET", api+"tasks("+task+")/task_activity_parties", "").values(t)); n != 2 {
		t.Errorf("task parties = %d, want 2 (customer and owner)", n)
	}
}

func TestPropertyOperations(t *testing.T) {
	_, srv := newServer(t, testOptions())
	id := createRecord(t, srv, "contacts", `{"firstname":"Pat","lastname":"Prop","telephone1":"1"}`)
	wantStatus(t, call(t, srv, "PUT", api+"contacts("+id+")/lastname", `{"value":"Changed"}`), 204)
	if got := call(t, srv, "GET", api+"contacts("+id+")/fullname", "").json(t)["value"]; got != "Pat Changed" {
		t.Errorf("fullname after PUT lastname = %v", got)
	}
	wantStatus(t, call(t, srv, "DELETE", api+"contacts("+id+")/telephone1", ""), 204)
	wantStatus(t, call(t, srv, "GET", api+"contacts("+id+")/telephone1", ""), 204)
	wantStatus(t, call(t, srv, "PUT", api+"contacts("+id+")/lastname", `{"value":5}`), 400)
	wantStatus(t, call(t, srv, "PUT", api+"contacts(00000000-0000-0000-0000-000000000009)/lastname", `{"value":"x"}`), 404)
}

func TestImpersonation(t *testing.T) {
	_, srv := newServer(t, testOptions())
	agent := sandbox.DemoAgents[1]
	tests := []struct {
		name      string
		header    []string
		status    int
		wantOwner string
	}{
		{name: "MSCRMCallerID", header: []string{"MSCRMCallerID", agent.SystemUserID}, status: 204, wantOwner: agent.SystemUserID},
		{name: "CallerObjectId", header: []string{"CallerObjectId", strings.ToUpper(agent.ObjectID)}, status: 204, wantOwner: agent.SystemUserID},
		{name: "no header", status: 204, wantOwner: sandbox.DefaultUserID},
		{name: "unknown systemuserid", header: []string{"MSCRMCallerID", "00000000-0000-0000-0000-000000000123"}, status: 404},
		{name: "unknown object id", header: []string{"CallerObjectId", "00000000-0000-0000-0000-000000000123"}, status: 404},
		{name: "not a GUID", header: []string{"MSCRMCallerID", "agent-7"}, status: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, srv, "POST", api+"phonecalls", `{"subject":"`+tt.name+`"}`, tt.header...)
			wantStatus(t, r, tt.status)
			if tt.status != 204 {
				return
			}
			loc := r.header.Get("OData-EntityId")
			m := call(t, srv, "GET", loc[strings.Index(loc, api):], "").json(t)
			if m["_ownerid_value"] != tt.wantOwner || m["_createdby_value"] != tt.wantOwner {
				t.Errorf("owner/createdby = %v/%v, want %s", m["_ownerid_value"], m["_createdby_value"], tt.wantOwner)
			}
		})
	}
	who := call(t, srv, "GET", api+"WhoAmI", "", "MSCRMCallerID", agent.SystemUserID).json(t)
	if who["UserId"] != agent.SystemUserID {
		t.Errorf("WhoAmI UserId = %v, want %s", who["UserId"], agent.SystemUserID)
	}
}

func TestServiceDocumentAndMethods(t *testing.T) {
	_, srv := newServer(t, testOptions())
	r := call(t, srv, "GET", api, "")
	wantStatus(t, r, http.StatusOK)
	if len(r.values(t)) != 7 {
		t.Errorf("service document lists %d entity sets, want 7", len(r.values(t)))
	}
	wantError(t, call(t, srv, "PUT", api+"contacts", `{}`), 405, "", "does not support http method 'PUT'")
	wantStatus(t, call(t, srv, "GET", "/nowhere", ""), 404)
	wantStatus(t, call(t, srv, "GET", api+"$metadata", ""), 501)
}
