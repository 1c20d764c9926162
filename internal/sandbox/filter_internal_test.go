package sandbox

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestMatchLike(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		pattern string
		want    bool
	}{
		{name: "percent matches any run", value: "Grace Whitfield", pattern: "%whit%", want: true},
		{name: "case is ignored", value: "GRACE", pattern: "grace", want: true},
		{name: "unicode case is ignored", value: "SIOBHÁN", pattern: "siobhán", want: true},
		{name: "underscore matches one character", value: "cat", pattern: "c_t", want: true},
		{name: "underscore needs a character", value: "ct", pattern: "c_t", want: false},
		{name: "set matches a member", value: "bat", pattern: "[bc]at", want: true},
		{name: "set rejects a non-member", value: "rat", pattern: "[bc]at", want: false},
		{name: "range matches", value: "d7", pattern: "d[0-9]", want: true},
		{name: "negated set", value: "rat", pattern: "[^bc]at", want: true},
		{name: "negated set rejects member", value: "bat", pattern: "[^bc]at", want: false},
		{name: "unclosed bracket is literal", value: "[abc", pattern: "[abc", want: true},
		{name: "prefix", value: "+61 2 9999 0000", pattern: "+61%", want: true},
		{name: "suffix mismatch", value: "abc", pattern: "%b", want: false},
		{name: "empty value and percent", value: "", pattern: "%", want: true},
		{name: "quote is literal", value: "O'Brien", pattern: "%'b%", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := matchLike(tt.value, tt.pattern); got != tt.want {
				t.Errorf("matchLike(%q, %q) = %v, want %v", tt.value, tt.pattern, got, tt.want)
			}
		})
	}
}

func TestTranslateFilter(t *testing.T) {
	sch, err := newSchema([]string{"new_wrapcode"}, "new_agentinteractionid", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	contact := sch.table("contact")
	tests := []struct {
		name     string
		filter   string
		wantSQL  string
		wantArgs []any
	}{
		{name: "string eq is case-insensitive and bound", filter: "telephone1 eq '0299990000'",
			wantSQL: `(t0."telephone1" = ? COLLATE sandbox_ci)`, wantArgs: []any{"0299990000"}},
		{name: "injection attempt stays a value", filter: "lastname eq '''; DROP TABLE contacts; --'",
			wantSQL: `(t0."lastname" = ? COLLATE sandbox_ci)`, wantArgs: []any{"'; DROP TABLE contacts; --"}},
		{name: "ne", filter: "firstname ne 'a'", wantSQL: `(t0."firstname" <> ? COLLATE sandbox_ci)`, wantArgs: []any{"a"}},
		{name: "gt on int", filter: "statecode gt 0", wantSQL: `(t0."statecode" > ?)`, wantArgs: []any{int64(0)}},
		{name: "ge le lt", filter: "statuscode ge 1 and statuscode le 2 and statecode lt 1",
			wantSQL:  `(((t0."statuscode" >= ?) AND (t0."statuscode" <= ?)) AND (t0."statecode" < ?))`,
			wantArgs: []any{int64(1), int64(2), int64(1)}},
		{name: "or", filter: "telephone1 eq 'a' or mobilephone eq 'a'",
			wantSQL:  `((t0."telephone1" = ? COLLATE sandbox_ci) OR (t0."mobilephone" = ? COLLATE sandbox_ci))`,
			wantArgs: []any{"a", "a"}},
		{name: "not", filter: "not contains(fullname,'x')", wantSQL: `(NOT (sandbox_like(t0."fullname", ?) = 1))`, wantArgs: []any{"%x%"}},
		{name: "eq null", filter: "telephone1 eq null", wantSQL: `(t0."telephone1" IS NULL)`},
		{name: "ne null", filter: "telephone1 ne null", wantSQL: `(t0."telephone1" IS NOT NULL)`},
		{name: "null on the left", filter: "null eq telephone1", wantSQL: `(t0."telephone1" IS NULL)`},
		{name: "startswith", filter: "startswith(lastname,'O''B')", wantSQL: `(sandbox_like(t0."lastname", ?) = 1)`, wantArgs: []any{"O'B%"}},
		{name: "endswith", filter: "endswith(emailaddress1,'.org')", wantSQL: `(sandbox_like(t0."emailaddress1", ?) = 1)`, wantArgs: []any{"%.org"}},
		{name: "boolean column as condition", filter: "donotphone", wantSQL: `(t0."donotphone" = 1)`},
		{name: "boolean comparison", filter: "donotphone eq true", wantSQL: `(t0."donotphone" = ?)`, wantArgs: []any{int64(1)}},
		{name: "lookup by guid", filter: "_parentcustomerid_value eq 7D3F5B86-0000-0000-0000-000000000001",
			wantSQL: `(t0."parentcustomerid" = ?)`, wantArgs: []any{"7d3f5b86-0000-0000-0000-000000000001"}},
		{name: "column comparison", filter: "firstname eq lastname", wantSQL: `(t0."firstname" = t0."lastname" COLLATE sandbox_ci)`},
		{name: "navigation path", filter: "parentcustomerid_account/name eq 'Acme'",
			wantSQL:  `(t0."parentcustomerid__type" = ? AND t0."parentcustomerid" IN (SELECT n1."accountid" FROM "accounts" AS n1 WHERE (n1."name" = ? COLLATE sandbox_ci)))`,
			wantArgs: []any{"account", "Acme"}},
		{name: "navigation path in a function", filter: "contains(parentcustomerid_account/name,'acme')",
			wantSQL:  `(t0."parentcustomerid__type" = ? AND t0."parentcustomerid" IN (SELECT n1."accountid" FROM "accounts" AS n1 WHERE (sandbox_like(n1."name", ?) = 1)))`,
			wantArgs: []any{"account", "%acme%"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sql, args, err := translateFilter(sch, contact, "t0", tt.filter)
			if err != nil {
				t.Fatalf("translateFilter(%q): %v", tt.filter, err)
			}
			if sql != tt.wantSQL {
				t.Errorf("SQL:\n got %s\nwant %s", sql, tt.wantSQL)
			}
			if len(args) != 0 || len(tt.wantArgs) != 0 {
				if !reflect.DeepEqual(args, tt.wantArgs) {
					t.Errorf("args = %#v, want %#v", args, tt.wantArgs)
				}
			}
		})
	}
}

func TestTranslateFilterErrors(t *testing.T) {
	sch, err := newSchema(nil, "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	contact := sch.table("contact")
	tests := []struct {
		name    string
		filter  string
		message string
	}{
		{name: "unknown column", filter: "nickname eq 'x'", message: "Could not find a property named 'nickname' on type 'Microsoft.Dynamics.CRM.contact'."},
		{name: "lookup needs _value form", filter: "parentcustomerid eq null", message: "Could not find a property named 'parentcustomerid' on type 'Microsoft.Dynamics.CRM.contact'."},
		{name: "string against number", filter: "telephone1 eq 5", message: "A binary operator with incompatible types was detected. Found operand types 'Edm.String' and 'Edm.Int32' for operator kind 'Equal'."},
		{name: "guid against string", filter: "_parentcustomerid_value eq 'abc'", message: "Found operand types 'Edm.Guid' and 'Edm.String'"},
		{name: "tolower is not a Dataverse function", filter: "tolower(firstname) eq 'a'", message: "The 'tolower' function is not supported"},
		{name: "function on a number column", filter: "contains(statecode,'1')", message: "the first argument must be a string property"},
		{name: "syntax error has position", filter: "lastname eq 'O'Bryan'", message: "at position"},
		{name: "unknown navigation property", filter: "owner_account/name eq 'x'", message: "Could not find a property named 'owner_account'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := translateFilter(sch, contact, "t0", tt.filter)
			var ae *apiError
			if !errors.As(err, &ae) {
				t.Fatalf("translateFilter(%q) error = %v, want an apiError", tt.filter, err)
			}
			if ae.Status != 400 || ae.Code != codeQuery {
				t.Errorf("status/code = %d %s, want 400 %s", ae.Status, ae.Code, codeQuery)
			}
			if !strings.Contains(ae.Message, tt.message) {
				t.Errorf("message = %q, want it to contain %q", ae.Message, tt.message)
			}
		})
	}
}

func TestParseKeyPredicate(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string]keyValue
		wantErr bool
	}{
		{name: "quoted value", in: "new_key='IX-1'", want: map[string]keyValue{"new_key": {"IX-1", true}}},
		{name: "doubled quote", in: "k='O''Brien'", want: map[string]keyValue{"k": {"O'Brien", true}}},
		{name: "slash and paren inside quotes", in: "k='a/b)c'", want: map[string]keyValue{"k": {"a/b)c", true}}},
		{name: "two keys", in: "a='x',b=5", want: map[string]keyValue{"a": {"x", true}, "b": {"5", false}}},
		{name: "unterminated", in: "k='x", wantErr: true},
		{name: "duplicate", in: "k='x',k='y'", wantErr: true},
		{name: "no name", in: "='x'", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseKeyPredicate(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestSplitPath(t *testing.T) {
	segs, err := splitPath("phonecalls(new_agentinteractionid='a/b(c)')/phonecall_activity_parties")
	if err != nil {
		t.Fatal(err)
	}
	want := []segment{{name: "phonecalls", key: "new_agentinteractionid='a/b(c)'", hasKey: true}, {name: "phonecall_activity_parties"}}
	if !reflect.DeepEqual(segs, want) {
		t.Errorf("got %#v, want %#v", segs, want)
	}
}

func TestCompareFold(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"abc", "ABC", 0}, {"Zoë", "ZOË", 0}, {"a", "b", -1}, {"B", "a", 1}, {"ab", "abc", -1}, {"", "", 0},
	}
	for _, tt := range tests {
		if got := compareFold(tt.a, tt.b); got != tt.want {
			t.Errorf("compareFold(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestFilterSizeLimits: long chains of one logical operator translate to
// a shallow SQL tree, and what SQLite could not run is refused as a 400.
func TestFilterSizeLimits(t *testing.T) {
	sch, err := newSchema(nil, "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	contact := sch.table("contact")
	chain := func(n int, term, op string) string {
		terms := make([]string, n)
		for i := range terms {
			terms[i] = term
		}
		return strings.Join(terms, op)
	}
	tests := []struct {
		name   string
		filter string
		ok     bool
	}{
		{name: "2000 or terms", filter: chain(2000, "lastname eq 'x'", " or "), ok: true},
		{name: "and of ors", filter: chain(500, "lastname eq 'x' or firstname eq 'y'", " and "), ok: true},
		{name: "3000 or terms", filter: chain(3000, "lastname eq 'x'", " or ")},
		{name: "comparison chain", filter: chain(3000, "donotphone", " eq ")},
		{name: "nested calls and nots", filter: chain(60, "not contains(lastname,'x')", " or ")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sql, _, err := translateFilter(sch, contact, "t0", tt.filter)
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				if depth := maxParenDepth(sql); depth > 40 {
					t.Errorf("SQL nests %d parentheses deep", depth)
				}
				return
			}
			var ae *apiError
			if err != nil && !errors.As(err, &ae) {
				t.Fatalf("err = %v, want an apiError", err)
			}
			if err == nil && maxParenDepth(sql) > 100 {
				t.Fatalf("accepted with SQL %d deep", maxParenDepth(sql))
			}
		})
	}
}

func maxParenDepth(s string) int {
	depth, most := 0, 0
	for _, c := range s {
		switch c {
		case '(':
			depth++
			most = max(most, depth)
		case ')':
			depth--
		}
	}
	return most
}
