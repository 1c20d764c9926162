package screenpop

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/ctibridge/ctibridge/internal/config"
	"github.com/ctibridge/ctibridge/internal/interaction"
	"github.com/ctibridge/ctibridge/internal/odata"
)

func loadEngine(t testing.TB, path string) *Engine {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	e, err := New(cfg, "AU")
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func event(t testing.TB, callType interaction.CallType, activity string, lead string) *interaction.Event {
	t.Helper()
	doc := `{"id":"ev-1","type":"callAlerting","agentId":"1001","timestamp":"2026-11-25T09:00:00Z",
		"interaction":{"agentInteractionId":"IX-1","callType":"` + string(callType) + `","activity":` + activity
	if lead != "" {
		doc += `,"leadData":` + lead
	}
	doc += `}}`
	ev, err := interaction.DecodeEvent([]byte(doc))
	if err != nil {
		t.Fatalf("decode event: %v\n%s", err, doc)
	}
	return ev
}

// filterLiterals returns the string literals of the query's $filter, in order.
func filterLiterals(t *testing.T, query string) []string {
	t.Helper()
	q, err := odata.ParseQuery(query)
	if err != nil {
		t.Fatalf("rendered query does not parse: %v\n%s", err, query)
	}
	var out []string
	var walk func(e odata.Expr)
	walk = func(e odata.Expr) {
		switch n := e.(type) {
		case *odata.Binary:
			walk(n.Left)
			walk(n.Right)
		case *odata.Not:
			walk(n.Operand)
		case *odata.Call:
			for _, a := range n.Args {
				walk(a)
			}
		case *odata.Literal:
			if n.Kind == odata.LiteralString {
				out = append(out, n.Value)
			}
		}
	}
	if q.FilterExpr != nil {
		walk(q.FilterExpr)
	}
	return out
}

func TestReferenceScreenPopRulesByCallType(t *testing.T) {
	e := loadEngine(t, "../../testdata/reference/screenpop.json")
	activity := `{"customerCli":"0299990000","sourcePhoneNumber":"0412345678"}`
	lead := `{"name":"Jo Citizen","phones":[{"index":2,"phone":"0411111111"},{"index":1,"phone":"+61 2 9999 0000"}]}`
	tests := []struct {
		name             string
		callType         interaction.CallType
		wantRule         string
		wantLiterals     []string
		wantSearchValues []string
		wantValues       map[string]string
	}{
		{
			name: "inbound uses the default", callType: interaction.CallInbound, wantRule: "screenPop.default",
			wantLiterals: []string{"0299990000"}, wantSearchValues: []string{"0299990000", " or ", "0412345678"},
			wantValues: map[string]string{"telephone1": "0299990000", "mobilephone": "0412345678"},
		},
		{
			name: "manual uses the default", callType: interaction.CallManual, wantRule: "screenPop.default",
			wantLiterals: []string{"0299990000"}, wantSearchValues: []string{"0299990000", " or ", "0412345678"},
			wantValues: map[string]string{"telephone1": "0299990000", "mobilephone": "0412345678"},
		},
		{
			name: "outbound uses the default", callType: interaction.CallOutbound, wantRule: "screenPop.default",
			wantLiterals: []string{"0299990000"},
			wantValues:   map[string]string{"telephone1": "0299990000"},
		},
		{
			name: "preview takes lead phone index 1 in local format", callType: interaction.CallPreview, wantRule: "screenPop.rules[0]",
			wantLiterals: []string{"(02) 9999 0000"}, wantSearchValues: []string{"(02) 9999 0000"},
			wantValues: map[string]string{"telephone1": "(02) 9999 0000"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := e.Decide(event(t, tt.callType, activity, lead))
			if err != nil {
				t.Fatal(err)
			}
			if d.Rule != tt.wantRule || d.Entity != "contact" || !d.AddNewRecord {
				t.Fatalf("decision = rule %s entity %s addNewRecord %t, want %s contact true", d.Rule, d.Entity, d.AddNewRecord, tt.wantRule)
			}
			if got := filterLiterals(t, d.Query); strings.Join(got, "|") != strings.Join(tt.wantLiterals, "|") {
				t.Fatalf("filter literals = %q, want %q (query %s)", got, tt.wantLiterals, d.Query)
			}
			for _, v := range tt.wantSearchValues {
				if !strings.Contains(d.SearchText, v) {
					t.Fatalf("search text = %q, want it to search %q", d.SearchText, v)
				}
			}
			if strings.Contains(d.LookupQuery, "$search") {
				t.Fatalf("lookup query keeps $search: %s", d.LookupQuery)
			}
			if got := filterLiterals(t, d.LookupQuery); strings.Join(got, "|") != strings.Join(tt.wantLiterals, "|") {
				t.Fatalf("lookup query lost its filter: %s", d.LookupQuery)
			}
			for name, want := range tt.wantValues {
				if got := d.Prefill()[name]; got != want {
					t.Errorf("prefill[%s] = %q, want %q", name, got, want)
				}
			}
		})
	}
}

func TestRuleChoiceWithEveryCallTypeRule(t *testing.T) {
	e := loadEngine(t, "../../testdata/sample.json")
	for _, tt := range []struct {
		callType   interaction.CallType
		wantRule   string
		wantEntity string
	}{
		{interaction.CallPreview, "screenPop.rules[0]", "contact"},
		{interaction.CallInbound, "screenPop.rules[1]", "contact"},
		{interaction.CallOutbound, "screenPop.rules[2]", "lead"},
		{interaction.CallManual, "screenPop.rules[3]", "account"},
	} {
		t.Run(string(tt.callType), func(t *testing.T) {
			d, err := e.Decide(event(t, tt.callType, `{"customerCli":"61299990000"}`, `{"phones":[{"index":1,"phone":"61299990000"}]}`))
			if err != nil {
				t.Fatal(err)
			}
			if d.Rule != tt.wantRule || d.Entity != tt.wantEntity {
				t.Fatalf("got rule %s entity %s, want %s %s", d.Rule, d.Entity, tt.wantRule, tt.wantEntity)
			}
			if want := map[string]string{"contact": "contacts", "lead": "leads", "account": "accounts"}[tt.wantEntity]; d.EntitySet != want {
				t.Fatalf("entity set = %q, want %q", d.EntitySet, want)
			}
			if got := filterLiterals(t, d.Query); len(got) == 0 || got[0] != "(02) 9999 0000" {
				t.Fatalf("E.164-without-plus caller formatted as %q, want the local (02) 9999 0000", got)
			}
		})
	}
}

func TestHostileCallerIDStaysOneLiteral(t *testing.T) {
	e := loadEngine(t, "../../testdata/reference/screenpop.json")
	hostile := []string{
		`' or 1 eq 1 or telephone1 eq '`,
		`0299990000')&$filter=true&$top=5000&x=('`,
		`{{mobilephone}}`,
		`%27 or 1 eq 1`,
		`" OR * OR "`,
		strings.Repeat("'&$#%+", 40),
	}
	for _, cli := range hostile {
		t.Run(cli[:min(len(cli), 24)], func(t *testing.T) {
			activity, _ := json.Marshal(map[string]string{"customerCli": cli, "sourcePhoneNumber": cli})
			d, err := e.Decide(event(t, interaction.CallInbound, string(activity), ""))
			if err != nil {
				t.Fatal(err)
			}
			if got := filterLiterals(t, d.Query); len(got) != 1 || got[0] != cli {
				t.Fatalf("filter literals = %q, want exactly the caller ID as one literal", got)
			}
			values, err := url.ParseQuery(strings.TrimPrefix(d.Query, "?"))
			if err != nil {
				t.Fatal(err)
			}
			if len(values) != 3 || len(values["$filter"]) != 1 || len(values["$top"]) != 0 {
				t.Fatalf("parameters = %v, want only the template's $select, $filter, $search", values)
			}
		})
	}
}

func TestHugeValuesAreCut(t *testing.T) {
	e := loadEngine(t, "../../testdata/reference/screenpop.json")
	huge := strings.Repeat("é'", 100_000)
	activity, _ := json.Marshal(map[string]string{"customerCli": huge})
	d, err := e.Decide(event(t, interaction.CallInbound, string(activity), ""))
	if err != nil {
		t.Fatal(err)
	}
	got := filterLiterals(t, d.Query)
	if len(got) != 1 || len(got[0]) > MaxValueBytes || !strings.HasPrefix(huge, got[0]) {
		t.Fatalf("literal of %d bytes, want a prefix of the value of at most %d", len(got[0]), MaxValueBytes)
	}
	if len(d.Problems) == 0 || !strings.Contains(d.Problems[0], "was cut") {
		t.Fatalf("problems = %q, want the cut reported", d.Problems)
	}
}

func TestMissingValuesSkipTheSearch(t *testing.T) {
	e := loadEngine(t, "../../testdata/reference/screenpop.json")
	d, err := e.Decide(event(t, interaction.CallInbound, `{}`, ""))
	if err != nil {
		t.Fatal(err)
	}
	if !d.Skip {
		t.Fatal("a call with no caller ID searched anyway; want Skip")
	}
	if len(d.Problems) != 2 || !strings.Contains(d.Problems[0], "screenPop.default.map[0]") {
		t.Fatalf("problems = %q, want one per missing path naming the map entry", d.Problems)
	}
}

func TestPartlyMissingValuesStillPop(t *testing.T) {
	e := loadEngine(t, "../../testdata/reference/screenpop.json")
	d, err := e.Decide(event(t, interaction.CallInbound, `{"customerCli":"0299990000"}`, ""))
	if err != nil {
		t.Fatal(err)
	}
	if d.Skip || len(d.Problems) != 1 {
		t.Fatalf("skip %t problems %q, want a pop with one problem", d.Skip, d.Problems)
	}
}

func TestSplitSearch(t *testing.T) {
	tests := []struct {
		name, query, wantLookup, wantSearch string
	}{
		{"no search", "?$select=a&$filter=a eq 'x'", "?$select=a&$filter=a eq 'x'", ""},
		{"search last", "?$select=a&$filter=a eq 'x'&$search=%22x%22", "?$select=a&$filter=a eq 'x'", `"x"`},
		{"search first", "?$search=x&$select=a", "?$select=a", "x"},
		{"only search", "?$search=x", "", "x"},
		{"no question mark", "$filter=a eq 'x'&$search=x", "$filter=a eq 'x'", "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lookup, search := splitSearch(tt.query)
			if lookup != tt.wantLookup || search != tt.wantSearch {
				t.Fatalf("splitSearch = %q, %q; want %q, %q", lookup, search, tt.wantLookup, tt.wantSearch)
			}
		})
	}
}

// BenchmarkDecide is one full decision: rule choice, path lookups, phone
// formatting and template rendering with its structural proof, for the
// reference's preview rule (the one with a phone value), over varied numbers.
func BenchmarkDecide(b *testing.B) {
	e := loadEngine(b, "../../testdata/reference/screenpop.json")
	numbers := []string{"+61 2 9999 0000", "0412 345 678", "(03) 9123 4567", "61755501234", "+44 20 7946 0018", "+1 201-555-0123", "0899998888", "1300 655 506"}
	events := make([]*interaction.Event, len(numbers))
	for i, n := range numbers {
		events[i] = event(b, interaction.CallPreview, `{}`, `{"phones":[{"index":1,"phone":"`+n+`"}]}`)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.Decide(events[i%len(events)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecideInbound is the reference default rule (two string values,
// a $search) for an inbound call.
func BenchmarkDecideInbound(b *testing.B) {
	e := loadEngine(b, "../../testdata/reference/screenpop.json")
	ev := event(b, interaction.CallInbound, `{"customerCli":"61299990000","sourcePhoneNumber":"61412345678"}`, "")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.Decide(ev); err != nil {
			b.Fatal(err)
		}
	}
}

func TestVariantsSearchEveryWritingOfTheNumber(t *testing.T) {
	e := loadEngine(t, "testdata/variants.json")
	d, err := e.Decide(event(t, interaction.CallInbound, `{"customerCli":"61299990000"}`, ""))
	if err != nil {
		t.Fatal(err)
	}
	writings := e.Phones().Variants("61299990000")
	if len(writings) < 10 {
		t.Fatalf("only %d writings: %q", len(writings), writings)
	}
	// telephone1 eq each writing, then mobilephone eq each writing.
	want := append(append([]string(nil), writings...), writings...)
	if got := filterLiterals(t, d.LookupQuery); !slices.Equal(got, want) {
		t.Fatalf("lookup literals\n%q\nwant\n%q", got, want)
	}
	if !strings.HasPrefix(d.LookupQuery, "?$select=contactid,fullname,telephone1,mobilephone&$filter=(telephone1 eq '%2802%29%209999%200000' or telephone1 eq '0299990000' or ") {
		t.Errorf("lookup query %q", d.LookupQuery)
	}
	if !strings.HasPrefix(d.SearchText, `("(02) 9999 0000" OR 0299990000 OR `) {
		t.Errorf("search text %q, want the writings as alternatives", d.SearchText)
	}
	// The new-record form gets one writing: the local format.
	if len(d.Values) != 1 || d.Values[0].Value != "(02) 9999 0000" || d.Skip || len(d.Problems) != 0 {
		t.Errorf("values %+v skip %t problems %q", d.Values, d.Skip, d.Problems)
	}
}

func TestVariantsOfAWithheldNumberSkipThePop(t *testing.T) {
	e := loadEngine(t, "testdata/variants.json")
	d, err := e.Decide(event(t, interaction.CallInbound, `{"customerCli":"anonymous"}`, ""))
	if err != nil {
		t.Fatal(err)
	}
	if !d.Skip || d.Values[0].Value != "" {
		t.Fatalf("skip %t values %+v, want a skipped pop", d.Skip, d.Values)
	}
}

// BenchmarkDecideVariants is BenchmarkDecide with "format": "variants":
// the same preview rule and numbers, each expanded into its writings in
// $filter and $search.
func BenchmarkDecideVariants(b *testing.B) {
	e := loadEngine(b, "testdata/variants.json")
	numbers := []string{"+61 2 9999 0000", "0412 345 678", "(03) 9123 4567", "61755501234", "+44 20 7946 0018", "+1 201-555-0123", "0899998888", "1300 655 506"}
	events := make([]*interaction.Event, len(numbers))
	for i, n := range numbers {
		events[i] = event(b, interaction.CallPreview, `{}`, `{"phones":[{"index":1,"phone":"`+n+`"}]}`)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.Decide(events[i%len(events)]); err != nil {
			b.Fatal(err)
		}
	}
}
