package sandbox_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/ctibridge/ctibridge/internal/sandbox"
)

func TestRetrieve(t *testing.T) {
	_, srv := newServer(t, seeded())
	olivia := sandbox.DemoNumberByKey("single-contact").Records[0]
	pc := createRecord(t, srv, "phonecalls", `{"subject":"Inbound","new_agentinteractionid":"IX-RET-1"}`)

	tests := []struct {
		name   string
		path   string
		header []string
		status int
		check  func(t *testing.T, r response)
	}{
		{name: "by primary key with $select", path: "contacts(" + olivia.ID + ")" + q("$select", "fullname,telephone1"), status: 200,
			check: func(t *testing.T, r response) {
				m := r.json(t)
				if m["fullname"] != "Olivia Bennett" || m["telephone1"] != olivia.Stored || m["contactid"] != olivia.ID {
					t.Errorf("record = %v", m)
				}
				if _, ok := m["lastname"]; ok {
					t.Errorf("$select returned an unselected column: %v", m)
				}
				if etag, _ := m["@odata.etag"].(string); !strings.HasPrefix(etag, `W/"`) {
					t.Errorf("@odata.etag = %q, want W/\"<version>\"", etag)
				}
				if ctx, _ := m["@odata.context"].(string); !strings.HasSuffix(ctx, "$metadata#contacts(fullname,telephone1)/$entity") {
					t.Errorf("@odata.context = %q", ctx)
				}
			}},
		{name: "upper-case GUID finds the record", path: "contacts(" + strings.ToUpper(olivia.ID) + ")", status: 200},
		{name: "by alternate key", path: "phonecalls(new_agentinteractionid='IX-RET-1')", status: 200,
			check: func(t *testing.T, r response) {
				if r.json(t)["activityid"] != pc {
					t.Errorf("alternate key found %v, want %s", r.json(t)["activityid"], pc)
				}
			}},
		{name: "alternate key is case-insensitive", path: "phonecalls(new_agentinteractionid='ix-ret-1')", status: 200},
		{name: "all columns include nulls and lookups", path: "contacts(" + olivia.ID + ")", status: 200,
			check: func(t *testing.T, r response) {
				m := r.json(t)
				for _, k := range []string{"mobilephone", "_parentcustomerid_value", "_ownerid_value", "createdon", "modifiedon", "statecode"} {
					if _, ok := m[k]; !ok {
						t.Errorf("retrieve without $select lacks %s", k)
					}
				}
				if _, ok := m["_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"]; ok {
					t.Error("annotations returned without Prefer odata.include-annotations")
				}
			}},
		{name: "annotations on request", path: "contacts(" + olivia.ID + ")" + q("$select", "_parentcustomerid_value"),
			header: []string{"Prefer", `odata.include-annotations="*"`}, status: 200,
			check: func(t *testing.T, r response) {
				m := r.json(t)
				if m["_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] != "account" ||
					m["_parentcustomerid_value@OData.Community.Display.V1.FormattedValue"] != "Bennett & Co Accountants" ||
					m["_parentcustomerid_value@Microsoft.Dynamics.CRM.associatednavigationproperty"] != "parentcustomerid_account" {
					t.Errorf("lookup annotations = %v", m)
				}
			}},
		{name: "expand single-valued navigation", path: "contacts(" + olivia.ID + ")" + q("$select", "fullname", "$expand", "parentcustomerid_account($select=name)"), status: 200,
			check: func(t *testing.T, r response) {
				acc, _ := r.json(t)["parentcustomerid_account"].(map[string]any)
				if acc["name"] != "Bennett & Co Accountants" {
					t.Errorf("expanded account = %v", acc)
				}
			}},
		{name: "missing record", path: "contacts(00000000-0000-0000-0000-000000000001)", status: 404,
			check: func(t *testing.T, r response) {
				wantError(t, r, 404, "0x80040217", "contact With Id = 00000000-0000-0000-0000-000000000001 Does Not Exist")
			}},
		{name: "missing alternate key", path: "phonecalls(new_agentinteractionid='nope')", status: 404},
		{name: "unknown entity set", path: "contactz", status: 404,
			check: func(t *testing.T, r response) {
				wantError(t, r, 404, "0x80060888", "Resource not found for the segment 'contactz'.")
			}},
		{name: "entity sets are case-sensitive", path: "Contacts", status: 404},
		{name: "bad key", path: "contacts(123)", status: 400},
		{name: "key of another column", path: "contacts(firstname='Olivia')", status: 400,
			check: func(t *testing.T, r response) {
				wantError(t, r, 400, "", "does not match an alternate key")
			}},
		{name: "unknown $select column", path: "contacts(" + olivia.ID + ")" + q("$select", "nickname"), status: 400,
			check: func(t *testing.T, r response) {
				wantError(t, r, 400, "0x80060888", "Could not find a property named 'nickname' on type 'Microsoft.Dynamics.CRM.contact'.")
			}},
		{name: "lookup selected by its navigation name", path: "contacts(" + olivia.ID + ")" + q("$select", "parentcustomerid"), status: 400},
		{name: "$filter on a single record", path: "contacts(" + olivia.ID + ")" + q("$filter", "firstname eq 'x'"), status: 400},
		{name: "single property", path: "contacts(" + olivia.ID + ")/fullname", status: 200,
			check: func(t *testing.T, r response) {
				if r.json(t)["value"] != "Olivia Bennett" {
					t.Errorf("property = %s", r.body)
				}
			}},
		{name: "null single property is 204", path: "contacts(" + olivia.ID + ")/mobilephone", status: 204},
		{name: "unknown navigation segment", path: "contacts(" + olivia.ID + ")/nothing", status: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, srv, "GET", api+tt.path, "", tt.header...)
			wantStatus(t, r, tt.status)
			if r.header.Get("OData-Version") != "4.0" {
				t.Errorf("OData-Version header = %q, want 4.0", r.header.Get("OData-Version"))
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func TestRetrieveIfNoneMatch(t *testing.T) {
	_, srv := newServer(t, testOptions())
	id := createRecord(t, srv, "accounts", `{"name":"Etag Pty Ltd"}`)
	etag := call(t, srv, "GET", api+"accounts("+id+")", "").json(t)["@odata.etag"].(string)
	wantStatus(t, call(t, srv, "GET", api+"accounts("+id+")", "", "If-None-Match", etag), http.StatusNotModified)
	wantStatus(t, call(t, srv, "PATCH", api+"accounts("+id+")", `{"name":"Changed"}`), http.StatusNoContent)
	wantStatus(t, call(t, srv, "GET", api+"accounts("+id+")", "", "If-None-Match", etag), http.StatusOK)
}

func names(t *testing.T, r response, field string) []string {
	t.Helper()
	var out []string
	for _, v := range r.values(t) {
		s, _ := v[field].(string)
		out = append(out, s)
	}
	return out
}

func TestQueryFilters(t *testing.T) {
	_, srv := newServer(t, testOptions())
	acme := createRecord(t, srv, "accounts", `{"name":"Acme Widgets","telephone1":"(02) 5550 1000"}`)
	for _, body := range []string{
		`{"firstname":"Ann","lastname":"Archer","telephone1":"0255501001","donotphone":true,"parentcustomerid_account@odata.bind":"/accounts(` + acme + `)"}`,
		`{"firstname":"Bob","lastname":"Brown","telephone1":"0255501002","mobilephone":"0491 570 002"}`,
		`{"firstname":"Cara","lastname":"O'Connor","mobilephone":"0491 570 003","emailaddress1":"cara@example.org"}`,
		`{"firstname":"dave","lastname":"Dunn","telephone1":"+61 2 5550 1004","emailaddress1":"dave@example.com"}`,
		`{"firstname":"Eve","lastname":"50% Off","telephone1":"0255501005"}`,
		`{"firstname":"'; DROP TABLE contacts; --","lastname":"Mallory"}`,
	} {
		createRecord(t, srv, "contacts", body)
	}
	tests := []struct {
		name   string
		filter string
		want   []string // firstnames, in creation order
	}{
		{name: "eq", filter: "telephone1 eq '0255501002'", want: []string{"Bob"}},
		{name: "eq is case-insensitive", filter: "firstname eq 'DAVE'", want: []string{"dave"}},
		{name: "ne excludes nulls as SQL does", filter: "telephone1 ne '0255501002'", want: []string{"Ann", "dave", "Eve"}},
		{name: "gt", filter: "lastname gt 'Dunn'", want: []string{"Cara", "'; DROP TABLE contacts; --"}},
		{name: "ge", filter: "lastname ge 'Dunn'", want: []string{"Cara", "dave", "'; DROP TABLE contacts; --"}},
		{name: "lt", filter: "lastname lt 'Brown'", want: []string{"Ann", "Eve"}},
		{name: "le", filter: "lastname le 'Brown'", want: []string{"Ann", "Bob", "Eve"}},
		{name: "and", filter: "telephone1 ne null and mobilephone ne null", want: []string{"Bob"}},
		{name: "or", filter: "telephone1 eq '0491 570 003' or mobilephone eq '0491 570 003'", want: []string{"Cara"}},
		{name: "not", filter: "not (telephone1 eq null)", want: []string{"Ann", "Bob", "dave", "Eve"}},
		{name: "eq null", filter: "telephone1 eq null", want: []string{"Cara", "'; DROP TABLE contacts; --"}},
		{name: "contains", filter: "contains(emailaddress1,'EXAMPLE')", want: []string{"Cara", "dave"}},
		{name: "startswith", filter: "startswith(telephone1,'+61')", want: []string{"dave"}},
		{name: "endswith", filter: "endswith(emailaddress1,'.org')", want: []string{"Cara"}},
		{name: "doubled quote in literal", filter: "lastname eq 'O''Connor'", want: []string{"Cara"}},
		{name: "percent is a LIKE wildcard as in Dataverse", filter: "contains(lastname,'50%')", want: []string{"Eve"}},
		{name: "injection literal is only a value", filter: "firstname eq '''; DROP TABLE contacts; --'", want: []string{"'; DROP TABLE contacts; --"}},
		{name: "injection in contains", filter: "contains(firstname,'''); DELETE FROM contacts; --')", want: nil},
		{name: "boolean", filter: "donotphone eq true", want: []string{"Ann"}},
		{name: "lookup value", filter: "_parentcustomerid_value eq " + acme, want: []string{"Ann"}},
		{name: "navigation path", filter: "parentcustomerid_account/name eq 'acme widgets'", want: []string{"Ann"}},
		{name: "grouping", filter: "(firstname eq 'Ann' or firstname eq 'Bob') and mobilephone ne null", want: []string{"Bob"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, srv, "GET", api+"contacts"+q("$select", "firstname", "$filter", tt.filter), "")
			wantStatus(t, r, 200)
			got := names(t, r, "firstname")
			if !slices.Equal(got, tt.want) {
				t.Errorf("$filter=%s returned %q, want %q", tt.filter, got, tt.want)
			}
		})
	}
	// A raw '+' in the query string is a space, as in Dataverse: clients
	// must send %2B.
	raw := call(t, srv, "GET", api+"contacts?$select=firstname&$filter=telephone1%20eq%20'+61%202%205550%201004'", "")
	if n := len(raw.values(t)); n != 0 {
		t.Errorf("an unencoded + matched %d contacts, want 0", n)
	}
	encoded := call(t, srv, "GET", api+"contacts?$select=firstname&$filter=telephone1%20eq%20'%2B61%202%205550%201004'", "")
	if got := names(t, encoded, "firstname"); !slices.Equal(got, []string{"dave"}) {
		t.Errorf("an encoded + matched %q, want [dave]", got)
	}
	// The injection attempts above left the table intact.
	r := call(t, srv, "GET", api+"contacts"+q("$select", "firstname"), "")
	if n := len(r.values(t)); n != 6 {
		t.Errorf("contacts after injection attempts = %d, want 6", n)
	}
}

func TestQueryErrors(t *testing.T) {
	_, srv := newServer(t, testOptions())
	tests := []struct {
		name   string
		query  string
		status int
		code   string
		msg    string
	}{
		{name: "unknown filter column", query: q("$filter", "nickname eq 'x'"), status: 400, code: "0x80060888", msg: "Could not find a property named 'nickname' on type 'Microsoft.Dynamics.CRM.contact'."},
		{name: "syntax error", query: q("$filter", "lastname eq 'O'Bryan'"), status: 400, code: "0x80060888", msg: "Syntax error"},
		{name: "type mismatch", query: q("$filter", "telephone1 eq 5"), status: 400, code: "0x80060888", msg: "incompatible types"},
		{name: "unknown orderby column", query: q("$orderby", "nickname"), status: 400, code: "0x80060888", msg: "nickname"},
		{name: "bad orderby direction", query: q("$orderby", "lastname sideways"), status: 400, msg: "asc or desc"},
		{name: "negative top", query: q("$top", "-1"), status: 400, msg: "$top"},
		{name: "skip is not supported", query: q("$skip", "10"), status: 400, msg: "The query parameter $skip is not supported"},
		{name: "search is not a Web API option", query: q("$search", "0299990000"), status: 400, msg: "The query parameter $search is not supported"},
		{name: "bad count", query: q("$count", "yes"), status: 400, msg: "count"},
		{name: "bad expand", query: q("$expand", "nothing"), status: 400, msg: "nothing"},
		{name: "bad skiptoken", query: q("$skiptoken", "abc"), status: 400, msg: "$skiptoken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, call(t, srv, "GET", api+"contacts"+tt.query, ""), tt.status, tt.code, tt.msg)
		})
	}
}

func TestQueryOrderTopCount(t *testing.T) {
	_, srv := newServer(t, testOptions())
	for _, body := range []string{
		`{"firstname":"b","lastname":"Smith"}`, `{"firstname":"A","lastname":"Smith"}`,
		`{"firstname":"c","lastname":"Jones"}`, `{"firstname":"d","lastname":"Adams"}`,
	} {
		createRecord(t, srv, "contacts", body)
	}
	tests := []struct {
		name  string
		query string
		want  []string
		count float64
	}{
		{name: "orderby two columns, case-insensitive", query: q("$select", "firstname", "$orderby", "lastname desc,firstname asc"), want: []string{"A", "b", "c", "d"}},
		{name: "orderby default asc", query: q("$select", "firstname", "$orderby", "firstname"), want: []string{"A", "b", "c", "d"}},
		{name: "top", query: q("$select", "firstname", "$orderby", "firstname desc", "$top", "2"), want: []string{"d", "c"}},
		{name: "count with filter counts all matches", query: q("$select", "firstname", "$filter", "lastname eq 'smith'", "$count", "true", "$top", "1"), want: []string{"b"}, count: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, srv, "GET", api+"contacts"+tt.query, "")
			wantStatus(t, r, 200)
			if got := names(t, r, "firstname"); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if tt.count > 0 && r.json(t)["@odata.count"] != tt.count {
				t.Errorf("@odata.count = %v, want %v", r.json(t)["@odata.count"], tt.count)
			}
		})
	}
	r := call(t, srv, "GET", api+"contacts/$count"+q("$filter", "lastname eq 'Smith'"), "")
	wantStatus(t, r, 200)
	if string(r.body) != "2" {
		t.Errorf("/$count = %q, want 2", r.body)
	}
}

func TestPaging(t *testing.T) {
	_, srv := newServer(t, seeded())
	filter := "telephone1 ne null"
	all := call(t, srv, "GET", api+"contacts"+q("$select", "contactid", "$filter", filter, "$orderby", "lastname"), "")
	wantStatus(t, all, 200)
	want := names(t, all, "contactid")
	if len(want) < 30 {
		t.Fatalf("only %d seeded contacts with a phone; the test needs more pages", len(want))
	}
	if _, ok := all.json(t)["@odata.nextLink"]; ok {
		t.Error("an unpaged result under 5000 rows has @odata.nextLink")
	}

	var got []string
	next := srv.URL + api + "contacts" + q("$select", "contactid", "$filter", filter, "$orderby", "lastname", "$count", "true")
	pages := 0
	for next != "" {
		r := call(t, srv, "GET", strings.TrimPrefix(next, srv.URL), "", "Prefer", "odata.maxpagesize=7")
		wantStatus(t, r, 200)
		if r.header.Get("Preference-Applied") != "odata.maxpagesize=7" {
			t.Fatalf("Preference-Applied = %q", r.header.Get("Preference-Applied"))
		}
		page := names(t, r, "contactid")
		if len(page) > 7 {
			t.Fatalf("page of %d rows with maxpagesize 7", len(page))
		}
		if c := r.json(t)["@odata.count"]; c != float64(len(want)) {
			t.Fatalf("@odata.count on page %d = %v, want %d", pages+1, c, len(want))
		}
		got = append(got, page...)
		next, _ = r.json(t)["@odata.nextLink"].(string)
		if next != "" && !strings.Contains(next, "$skiptoken=%3Ccookie%20pagenumber=") {
			t.Fatalf("nextLink %q lacks a Dataverse-style paging cookie", next)
		}
		pages++
		if pages > 100 {
			t.Fatal("paging does not end")
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("paged rows (%d over %d pages) differ from the unpaged rows (%d)", len(got), pages, len(want))
	}
	if wantPages := (len(want) + 6) / 7; pages != wantPages {
		t.Errorf("pages = %d, want %d", pages, wantPages)
	}

	// $top is ignored when odata.maxpagesize is given, as Dataverse documents.
	r := call(t, srv, "GET", api+"contacts"+q("$select", "contactid", "$top", "2"), "", "Prefer", "odata.maxpagesize=5", "")
	if n := len(r.values(t)); n != 5 {
		t.Errorf("$top=2 with maxpagesize=5 returned %d rows, want 5", n)
	}
}
