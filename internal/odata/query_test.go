package odata

import (
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func TestParseQuery(t *testing.T) {
	tests := []struct {
		name       string
		raw        string
		wantSelect []string
		wantFilter string
		wantSearch string
		wantOrder  string
		wantTop    int
		wantOther  url.Values
	}{
		{
			name:       "reference query as written, raw spaces",
			raw:        "?$select=fullname,telephone1,mobilephone&$filter=telephone1 eq '0299990000'&$search=0299990000 or 0411111111",
			wantSelect: []string{"fullname", "telephone1", "mobilephone"},
			wantFilter: "telephone1 eq '0299990000'",
			wantSearch: "0299990000 or 0411111111",
		},
		{
			name:       "without the question mark",
			raw:        "$select=name&$top=5",
			wantSelect: []string{"name"},
			wantTop:    5,
		},
		{
			name:       "percent-encoded as OData clients send it",
			raw:        "?%24filter=telephone1%20eq%20%27%2B61299990000%27&$orderby=fullname%20desc,createdon",
			wantFilter: "telephone1 eq '+61299990000'",
			wantOrder:  "fullname desc,createdon",
		},
		{
			name:       "a raw plus is a space",
			raw:        "?$search=a+b&$filter=a+eq+'x+y'",
			wantFilter: "a eq 'x y'",
			wantSearch: "a b",
		},
		{
			name:       "select items trimmed",
			raw:        "?$select= fullname , telephone1",
			wantSelect: []string{"fullname", "telephone1"},
		},
		{
			name:       "select star",
			raw:        "?$select=*",
			wantSelect: []string{"*"},
		},
		{
			name:      "other parameters kept, semicolon is text",
			raw:       "?$expand=parentcustomerid_account($select=name)&$count=true&@p1='a;b'&x=1&x=2&flag",
			wantOther: url.Values{"$expand": {"parentcustomerid_account($select=name)"}, "$count": {"true"}, "@p1": {"'a;b'"}, "x": {"1", "2"}, "flag": {""}},
		},
		{
			name:    "empty parts skipped",
			raw:     "?&&$top=1&",
			wantTop: 1,
		},
		{
			name: "empty query",
			raw:  "?",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := ParseQuery(tt.raw)
			if err != nil {
				t.Fatalf("ParseQuery(%q): %v", tt.raw, err)
			}
			if !reflect.DeepEqual(q.Select, tt.wantSelect) {
				t.Errorf("Select = %q, want %q", q.Select, tt.wantSelect)
			}
			if q.Filter != tt.wantFilter {
				t.Errorf("Filter = %q, want %q", q.Filter, tt.wantFilter)
			}
			if (q.FilterExpr != nil) != (tt.wantFilter != "") {
				t.Errorf("FilterExpr = %v, want it set exactly when there is a filter", q.FilterExpr)
			}
			if q.FilterExpr != nil && FormatFilter(q.FilterExpr) == "" {
				t.Errorf("FilterExpr formats as empty")
			}
			if q.Search != tt.wantSearch {
				t.Errorf("Search = %q, want %q", q.Search, tt.wantSearch)
			}
			if q.OrderBy != tt.wantOrder {
				t.Errorf("OrderBy = %q, want %q", q.OrderBy, tt.wantOrder)
			}
			if q.Top != tt.wantTop {
				t.Errorf("Top = %d, want %d", q.Top, tt.wantTop)
			}
			if !reflect.DeepEqual(q.Other, tt.wantOther) {
				t.Errorf("Other = %v, want %v", q.Other, tt.wantOther)
			}
		})
	}
}

func TestParseQueryErrors(t *testing.T) {
	tests := []struct {
		name      string
		raw       string
		wantParam string
		wantError string // the whole Error() text
	}{
		{"filter syntax, offset in the decoded filter", "?$filter=telephone1%20eq%20'x' or", "$filter",
			"$filter: offset 20: expected a value, found the end of the filter"},
		{"filter given twice", "?$filter=a eq 1&$filter=b eq 2", "$filter", "$filter: given more than once: keep one"},
		{"empty filter", "?$filter=", "$filter", "$filter: empty: give a value or remove the parameter"},
		{"bad percent escape", "?$filter=a eq '%G1'", "$filter", "$filter: offset 6: a % must start a two-hex-digit escape such as %25 (which is % itself)"},
		{"truncated percent escape", "?$search=abc%2", "$search", "$search: offset 3: a % must start a two-hex-digit escape such as %25 (which is % itself)"},
		{"raw hash", "?$filter=a eq 'x#y'", "$filter", "$filter: offset 7: a raw # would end the URL here: write %23"},
		{"raw control character", "?$search=a\tb", "$search", "$search: offset 1: control character 0x09 must be percent-encoded (%09)"},
		{"bad key escape", "?%ZZ=1", "%ZZ", "%ZZ: offset 0: a % must start a two-hex-digit escape such as %25 (which is % itself)"},
		{"no name", "?=1", "", ": a parameter has no name (check for a stray '=' or '&')"},
		{"unknown system option", "?$fitler=a eq 1", "$fitler", "$fitler: unknown system query option"},
		{"option names are case-sensitive", "?$Filter=a eq 1", "$Filter", "$Filter: unknown system query option"},
		{"top not a number", "?$top=five", "$top", `$top: offset 0: must be a whole number from 1 to 5000, found "five"`},
		{"top zero", "?$top=0", "$top", `$top: offset 0: must be a whole number from 1 to 5000, found "0"`},
		{"top too large", "?$top=5001", "$top", `$top: offset 0: must be a whole number from 1 to 5000, found "5001"`},
		{"select empty item", "?$select=a,,b", "$select", "$select: offset 2: empty column name in the list (check for a doubled or trailing comma)"},
		{"select not a name", "?$select=a,full name", "$select", `$select: offset 2: "full name" is not a column name (letters, digits and _, paths joined with /)`},
		{"orderby bad direction", "?$orderby=fullname up", "$orderby", `$orderby: offset 0: "fullname up" is not "column", "column asc" or "column desc"`},
		{"search unterminated phrase", `?$search="abc`, "$search", `$search: offset 0: unterminated phrase: a " opened here is never closed (a quote inside a phrase is written \")`},
		{"search unbalanced parenthesis", "?$search=(a b", "$search", "$search: offset 0: unbalanced parentheses: this ( is never closed"},
		{"search stray parenthesis", "?$search=a)", "$search", "$search: offset 1: unbalanced parentheses: this ) has no matching ("},
		{"search dangling backslash", `?$search=a\`, "$search", `$search: offset 1: a \ at the end of the search text escapes nothing (write \\ for a backslash)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseQuery(tt.raw)
			var qe *QueryError
			if !errors.As(err, &qe) {
				t.Fatalf("ParseQuery(%q) error = %v, want a *QueryError", tt.raw, err)
			}
			if qe.Param != tt.wantParam {
				t.Errorf("Param = %q, want %q", qe.Param, tt.wantParam)
			}
			if !strings.HasPrefix(err.Error(), tt.wantError) {
				t.Errorf("Error() = %q, want it to start with %q", err.Error(), tt.wantError)
			}
		})
	}
}

func TestParseQueryFilterErrorUnwrapsToSyntaxError(t *testing.T) {
	_, err := ParseQuery("?$filter=a eq 'x")
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("error %v does not unwrap to *SyntaxError", err)
	}
	if se.Input != "a eq 'x" || se.Offset != 5 {
		t.Errorf("SyntaxError = %+v, want offset 5 in the decoded filter", se)
	}
}

func TestEncode(t *testing.T) {
	tests := []struct {
		name  string
		query *Query
		want  string
	}{
		{
			name:  "stable order and escaping",
			query: &Query{Search: "a+b", Top: 10, OrderBy: "fullname desc", Filter: "telephone1 eq '+61 2&3#4%'", Select: []string{"fullname", "telephone1"}, Other: url.Values{"$count": {"true"}, "$expand": {"x($select=name)"}}},
			want:  "?$select=fullname,telephone1&$filter=telephone1%20eq%20'%2B61%202%263%234%25'&$orderby=fullname%20desc&$top=10&$search=a%2Bb&$count=true&$expand=x(%24select%3Dname)",
		},
		{
			name:  "filter from the tree when there is no text",
			query: &Query{FilterExpr: bin(OpEq, prop("a"), str("O'Bryan"))},
			want:  "?$filter=a%20eq%20'O''Bryan'",
		},
		{
			name:  "non-ASCII as UTF-8",
			query: &Query{Search: "José"},
			want:  "?$search=Jos%C3%A9",
		},
		{
			name:  "empty",
			query: &Query{},
			want:  "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.query.Encode()
			if got != tt.want {
				t.Fatalf("Encode() = %q\nwant        %q", got, tt.want)
			}
			back, err := ParseQuery(got)
			if err != nil {
				t.Fatalf("ParseQuery(Encode()): %v", err)
			}
			if back.Encode() != got {
				t.Errorf("ParseQuery(Encode()).Encode() = %q, want %q", back.Encode(), got)
			}
			if tt.query.Filter != "" && back.Filter != tt.query.Filter {
				t.Errorf("Filter round trip = %q, want %q", back.Filter, tt.query.Filter)
			}
			if back.Search != tt.query.Search {
				t.Errorf("Search round trip = %q, want %q", back.Search, tt.query.Search)
			}
		})
	}
}

func TestWithoutSearch(t *testing.T) {
	q, err := ParseQuery("?$select=fullname&$filter=telephone1 eq '1'&$search=1&$count=true")
	if err != nil {
		t.Fatal(err)
	}
	c := q.WithoutSearch()
	if got, want := c.Encode(), "?$select=fullname&$filter=telephone1%20eq%20'1'&$count=true"; got != want {
		t.Errorf("WithoutSearch().Encode() = %q, want %q", got, want)
	}
	c.Select[0] = "changed"
	c.Other["$count"][0] = "false"
	if q.Select[0] != "fullname" || q.Other.Get("$count") != "true" || q.Search != "1" {
		t.Errorf("WithoutSearch changed the original: %+v", q)
	}
}
