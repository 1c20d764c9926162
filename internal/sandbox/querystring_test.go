package sandbox_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/internal/sandbox"
	"github.com/ctibridge/ctibridge/internal/testclock"
)

// TestQueryStringDecoding sends raw query strings, as a client puts them
// on the wire, and checks each reaches the query options intact: ';' is
// data (OData's separator inside $expand, and any character in a
// literal), '+' is a space, percent escapes are decoded once.
func TestQueryStringDecoding(t *testing.T) {
	_, srv := newServer(t, seeded())
	liam := sandbox.DemoNumberByKey("single-contact-international").Records[0]
	siobhan := sandbox.DemoNumberByKey("apostrophe-contact").Records[0]
	contact := sandbox.DemoNumberByKey("single-contact").Records[0]
	pc := createRecord(t, srv, "phonecalls", `{"subject":"Inbound","phonecall_activity_parties":[
		{"partyid_contact@odata.bind":"/contacts(`+contact.ID+`)","participationtypemask":1},
		{"partyid_contact@odata.bind":"/contacts(`+liam.ID+`)","participationtypemask":2}]}`)

	tests := []struct {
		name  string
		path  string
		count int // rows wanted in value; -1 to skip
		check func(t *testing.T, r response)
	}{
		{name: "semicolon in a literal", path: "contacts?$filter=lastname%20eq%20'zz;z'", count: 0},
		{name: "semicolon among several options", path: "contacts?$select=fullname&$filter=contains(fullname,';')&$top=3", count: 0},
		{name: "plus is a space", path: "contacts?$select=fullname&$filter=contactid+eq+" + liam.ID, count: 1},
		{name: "%2B is a plus", path: "contacts?$select=fullname&$filter=telephone1%20eq%20'%2B61%202%209999%200001'", count: 1},
		{name: "%27 quotes and doubled quote", path: "contacts?$select=fullname&$filter=lastname%20eq%20%27O%27%27Brien%27%20and%20contactid%20eq%20" + siobhan.ID, count: 1},
		{name: "%26 inside a literal", path: "accounts?$select=name&$filter=contains(name,'%26%20Co')", count: -1,
			check: func(t *testing.T, r response) {
				vs := r.values(t)
				if len(vs) == 0 {
					t.Fatal("contains(name,'& Co') found nothing")
				}
				for _, v := range vs {
					if !strings.Contains(v["name"].(string), "& Co") {
						t.Errorf("%v does not contain '& Co'", v["name"])
					}
				}
			}},
		{name: "encoded option name", path: "contacts?%24select=fullname&%24filter=contactid%20eq%20" + liam.ID, count: 1},
		{name: "custom options are ignored", path: "contacts?$select=fullname&@p1='x'&foo=bar;baz&$top=2", count: 2},
		{name: "expand options separated by ';'", path: "phonecalls(" + pc + ")?$select=subject&$expand=phonecall_activity_parties($select=participationtypemask;$orderby=participationtypemask%20desc;$top=1)", count: -1,
			check: func(t *testing.T, r response) {
				parties, ok := r.json(t)["phonecall_activity_parties"].([]any)
				if !ok {
					t.Fatalf("$expand was ignored:\n%s", r.body)
				}
				if len(parties) != 1 {
					t.Fatalf("$top=1 inside $expand gave %d parties:\n%s", len(parties), r.body)
				}
				p := parties[0].(map[string]any)
				if p["participationtypemask"] != float64(9) && p["participationtypemask"] != float64(2) {
					t.Errorf("$orderby desc inside $expand gave %v", p["participationtypemask"])
				}
				if _, ok := p["_partyid_value"]; ok {
					t.Errorf("$select inside $expand was ignored: %v", p)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, srv, "GET", api+tt.path, "")
			wantStatus(t, r, http.StatusOK)
			if tt.count >= 0 {
				if got := len(r.values(t)); got != tt.count {
					t.Errorf("%d rows, want %d", got, tt.count)
				}
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func TestQueryStringRefused(t *testing.T) {
	_, srv := newServer(t, seeded())
	tests := []struct {
		name string
		path string
		msg  string
	}{
		{name: "duplicate option", path: "contacts?$top=1&$top=2", msg: "Query option '$top' was specified more than once"},
		{name: "duplicate after decoding", path: "contacts?$filter=firstname%20eq%20'a'&%24filter=lastname%20eq%20'b'", msg: "Query option '$filter' was specified more than once"},
		{name: "duplicate with semicolon", path: "contacts?$filter=lastname%20eq%20'a;b'&$filter=firstname%20eq%20'c'", msg: "specified more than once"},
		{name: "unknown system option", path: "contacts?$foo=1", msg: "The query parameter $foo is not supported"},
		{name: "$skip", path: "contacts?$skip=10", msg: "The query parameter $skip is not supported"},
		{name: "bad percent escape", path: "contacts?$filter=lastname%20eq%20'%zz'", msg: "%zz"},
		{name: "duplicate option inside $expand", path: "contacts?$expand=parentcustomerid_account($select=name;$select=telephone1)", msg: "specified more than once"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, call(t, srv, "GET", api+tt.path, ""), http.StatusBadRequest, "0x80060888", tt.msg)
		})
	}
}

// orFilter is n conditions joined by or.
func orFilter(n int) string {
	terms := make([]string, n)
	for i := range terms {
		terms[i] = fmt.Sprintf("telephone1 eq '(02) 5550 %04d'", i)
	}
	return strings.Join(terms, " or ")
}

// TestLongFilter: SQLite's limits (expression depth 1000, bound
// parameters) must never surface as a 500 with SQLite's text.
func TestLongFilter(t *testing.T) {
	_, srv := newServer(t, seeded())
	olivia := sandbox.DemoNumberByKey("single-contact").Records[0]
	t.Run("1000 or terms are answered", func(t *testing.T) {
		f := orFilter(999) + " or telephone1 eq '" + olivia.Stored + "'"
		r := call(t, srv, "GET", api+"contacts"+q("$select", "fullname", "$filter", f), "")
		wantStatus(t, r, http.StatusOK)
		if vs := r.values(t); len(vs) != 1 || vs[0]["fullname"] != "Olivia Bennett" {
			t.Errorf("values = %v", vs)
		}
	})
	t.Run("1000 and terms are answered", func(t *testing.T) {
		f := strings.ReplaceAll(orFilter(1000), "eq", "ne")
		f = strings.ReplaceAll(f, " or ", " and ")
		r := call(t, srv, "GET", api+"contacts/$count"+q("$filter", f), "")
		wantStatus(t, r, http.StatusOK)
	})
	for _, n := range []int{2600, 5000} {
		t.Run(fmt.Sprintf("%d terms are refused", n), func(t *testing.T) {
			r := call(t, srv, "GET", api+"contacts"+q("$select", "fullname", "$filter", orFilter(n)), "")
			wantError(t, r, http.StatusBadRequest, "0x80060888", "conditions")
			if strings.Contains(strings.ToLower(string(r.body)), "sql") {
				t.Errorf("the error leaks SQL: %s", r.body)
			}
		})
	}
	t.Run("inside $expand", func(t *testing.T) {
		r := call(t, srv, "GET", api+"phonecalls"+q("$expand", "phonecall_activity_parties($filter="+strings.ReplaceAll(orFilter(5000), "telephone1", "addressused")+")"), "")
		wantError(t, r, http.StatusBadRequest, "0x80060888", "conditions")
	})
}

// TestAdminNeedsToken: with RequireAuth the fault and stats endpoints
// take the same bearer token as the Web API, so whoever can reach the
// sandbox cannot break or read it without a client secret.
func TestAdminNeedsToken(t *testing.T) {
	clock := testclock.New(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
	sb, srv := newServer(t, authOptions(clock))
	token := tokenRequest(t, srv.URL, url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {clientSecret}, "scope": {srv.URL + "/.default"}}, false).json(t)["access_token"].(string)
	tests := []struct {
		method, path, body string
	}{
		{"GET", "/_sandbox/stats", ""},
		{"DELETE", "/_sandbox/stats", ""},
		{"GET", "/_sandbox/faults", ""},
		{"POST", "/_sandbox/faults", `{"throttleCount":5}`},
		{"DELETE", "/_sandbox/faults", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := call(t, srv, tt.method, tt.path, tt.body)
			wantError(t, r, http.StatusUnauthorized, "0x80072560", "bearer token")
			if r.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			r = call(t, srv, tt.method, tt.path, tt.body, "Authorization", "Bearer abc.def.ghi")
			wantStatus(t, r, http.StatusUnauthorized)
			r = call(t, srv, tt.method, tt.path, tt.body, "Authorization", "Bearer "+token)
			if r.status/100 != 2 {
				t.Fatalf("with a token: %d\n%s", r.status, r.body)
			}
			_ = sb.SetFaults(sandbox.Faults{})
		})
	}
	if err := sb.SetFaults(sandbox.Faults{}); err != nil {
		t.Fatal(err)
	}
	call(t, srv, "POST", "/_sandbox/faults", `{"throttleCount":5}`)
	if f := sb.Faults(); f.ThrottleCount != 0 {
		t.Errorf("an unauthenticated POST set faults: %+v", f)
	}
}
