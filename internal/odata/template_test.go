package odata

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// The two templates of the reference config.
const (
	referenceDefault = "?$select=fullname,telephone1,mobilephone&$filter=telephone1 eq '{{telephone1}}'&$search={{telephone1}} or {{mobilephone}}"
	referencePreview = "?$select=fullname,telephone1,mobilephone&$filter=telephone1 eq '{{telephone1}}'&$search={{telephone1}}"
)

func mustTemplate(tb testing.TB, src string) *Template {
	tb.Helper()
	tp, err := ParseTemplate(src)
	if err != nil {
		tb.Fatalf("ParseTemplate(%q): %v", src, err)
	}
	return tp
}

// same returns a value function giving v for every name.
func same(v string) func(string) string { return func(string) string { return v } }

// validUTF8 is what a value reads as after Render: each invalid byte is
// U+FFFD. Converting through []rune does exactly that, independently of
// Render's code.
func validUTF8(v string) string { return string([]rune(v)) }

// literalValues lists the string literals of a filter tree in text order.
func literalValues(e Expr) []string {
	var out []string
	var walk func(Expr)
	walk = func(e Expr) {
		switch e := e.(type) {
		case *Binary:
			walk(e.Left)
			walk(e.Right)
		case *Not:
			walk(e.Operand)
		case *Call:
			for _, a := range e.Args {
				walk(a)
			}
		case *Literal:
			if e.Kind == LiteralString {
				out = append(out, e.Value)
			}
		}
	}
	walk(e)
	return out
}

// searchParts splits a decoded $search text into its terms (phrases and
// words with escapes undone) and its operators.
func searchParts(t *testing.T, s string) (terms, operators []string) {
	t.Helper()
	for i := 0; ; {
		tok, msg := lexSearch(s, i)
		if msg != "" {
			t.Fatalf("$search %q does not lex: %s", s, msg)
		}
		text := s[tok.start:tok.end]
		switch tok.kind {
		case searchEOF:
			return terms, operators
		case searchPhrase:
			terms = append(terms, unescapeSearch(text[1:len(text)-1]))
		case searchWord:
			terms = append(terms, unescapeSearch(text))
		default:
			operators = append(operators, text)
		}
		i = tok.end
	}
}

func unescapeSearch(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func TestParseTemplateReferenceTemplates(t *testing.T) {
	tests := []struct {
		name      string
		source    string
		wantPh    []Placeholder
		wantNames []string
	}{
		{
			name:   "default rule",
			source: referenceDefault,
			wantPh: []Placeholder{
				{Name: "telephone1", Context: ContextStringLiteral, Offset: 64},
				{Name: "telephone1", Context: ContextSearch, Offset: 88},
				{Name: "mobilephone", Context: ContextSearch, Offset: 106},
			},
			wantNames: []string{"telephone1", "mobilephone"},
		},
		{
			name:   "preview rule",
			source: referencePreview,
			wantPh: []Placeholder{
				{Name: "telephone1", Context: ContextStringLiteral, Offset: 64},
				{Name: "telephone1", Context: ContextSearch, Offset: 88},
			},
			wantNames: []string{"telephone1"},
		},
		{
			name:   "several placeholders in one literal, functions, no question mark",
			source: "$filter=contains(fullname,'{{first.name}} {{last-name}}') and statecode eq 0&$top=5",
			wantPh: []Placeholder{
				{Name: "first.name", Context: ContextStringLiteral, Offset: 27},
				{Name: "last-name", Context: ContextStringLiteral, Offset: 42},
			},
			wantNames: []string{"first.name", "last-name"},
		},
		{
			name:   "search operators around terms",
			source: "?$search=-{{a}} | ({{b_2}}* AND \"fixed phrase\")",
			wantPh: []Placeholder{
				{Name: "a", Context: ContextSearch, Offset: 10},
				{Name: "b_2", Context: ContextSearch, Offset: 19},
			},
			wantNames: []string{"a", "b_2"},
		},
		{
			name:   "encoded braces are text, not a placeholder",
			source: "?$filter=a eq '%7B%7Bx%7D%7D'",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := mustTemplate(t, tt.source)
			if tp.Source() != tt.source {
				t.Errorf("Source() = %q, want %q", tp.Source(), tt.source)
			}
			if got := tp.Placeholders(); !reflect.DeepEqual(got, tt.wantPh) {
				t.Errorf("Placeholders() = %+v, want %+v", got, tt.wantPh)
			}
			if got := tp.Names(); !reflect.DeepEqual(got, tt.wantNames) {
				t.Errorf("Names() = %q, want %q", got, tt.wantNames)
			}
		})
	}
}

func TestParseTemplateErrors(t *testing.T) {
	tests := []struct {
		name     string
		template string
		offset   int
		msg      string // a part of Msg
		fix      string // a part of Fix
	}{
		{"bare value after eq", "?$filter=telephone1 eq {{x}}", 23, "{{x}} is outside a string literal in $filter", "put {{x}} inside single quotes: telephone1 eq '{{x}}'"},
		{"in a property position", "?$filter={{x}} eq 'a'", 9, "{{x}} is outside a string literal", "inside single quotes"},
		{"in an operator position", "?$filter=a {{op}} 'b'", 11, "{{op}} is outside a string literal", "inside single quotes"},
		{"as a function argument", "?$filter=contains({{f}},'x')", 18, "{{f}} is outside a string literal", "inside single quotes"},
		{"after a closed literal", "?$filter=a eq 'x'{{y}}", 17, "{{y}} is outside a string literal", ""},
		{"unterminated literal", "?$filter=a eq '{{x}}", 14, "unterminated string literal", "a quote inside text is written ''"},
		{"raw plus in a literal", "?$filter=a eq '+61{{x}}'", 15, "a raw + in a query string is read as a space", "write %2B"},
		{"raw plus in a literal without placeholders", "?$filter=a eq '+1'&$search={{x}}", 15, "a raw + in a query string is read as a space", "write %2B"},
		{"unclosed parenthesis", "?$filter=(a eq '{{x}}'", 9, "$filter: unbalanced parentheses: this ( is never closed", ""},
		{"extra parenthesis", "?$filter=a eq '{{x}}')", 21, "$filter: unbalanced parentheses: this ) has no matching (", ""},
		{"offset mapped through percent-escapes", "?$filter=a%20eq%20'{{x}}' or", 28, "$filter: expected a value, found the end of the filter", ""},
		{"percent before a placeholder", "?$filter=a eq '%{{x}}'", 15, "$filter: a % must start a two-hex-digit escape", ""},
		{"in $select", "?$select={{x}}", 9, "{{x}} is in $select, where placeholders are not allowed", "write the column names literally"},
		{"in $orderby", "?$filter=a eq 1&$orderby={{x}}", 25, "{{x}} is in $orderby", "write the column names literally"},
		{"in $top", "?$top={{n}}", 6, "{{n}} is in $top", "write a fixed number of rows"},
		{"in another parameter", "?$expand={{x}}", 9, "{{x}} is in $expand", "$filter string literals"},
		{"in a parameter name", "?{{k}}=1", 1, "{{k}} is in a parameter name", ""},
		{"misspelt option", "?$fitler=a eq '{{x}}'", 1, "$fitler: unknown system query option", ""},
		{"inside a search phrase", `?$search="{{x}}"`, 10, "{{x}} is inside a quoted phrase in $search", "remove the quotes around {{x}}"},
		{"glued to search text", "?$search=a{{x}}", 10, "{{x}} is not a whole term in $search", "separate {{x}} from other text with a space"},
		{"two glued placeholders", "?$search={{x}}{{y}}", 9, "{{x}} is not a whole term", ""},
		{"escaped in search", `?$search=\{{x}}`, 10, "{{x}} is not a whole term", ""},
		{"unbalanced search parenthesis", "?$search=({{x}}", 9, "$search: unbalanced parentheses: this ( is never closed", ""},
		{"unterminated search phrase", `?$search="{{x}}`, 9, "$search: unterminated phrase", ""},
		{"unclosed placeholder", "?$filter=a eq '{{x'", 15, `unclosed placeholder "{{x'": no }}`, "close it: {{x}}"},
		{"empty placeholder", "?$filter=a eq '{{}}'", 15, "empty placeholder {{}}", "name the value"},
		{"space in a name", "?$filter=a eq '{{tel phone}}'", 20, "' ' is not allowed in a placeholder name", "letters, digits, _, . and -"},
		{"stray closing braces", "?$filter=a eq 'x}}'", 16, "}} without a matching {{", "%7D%7D"},
		{"invalid top", "?$top=0", 6, "$top: must be a whole number from 1 to 5000", ""},
		{"duplicate filter", "?$filter=a eq '{{x}}'&$filter=b eq 'y'", 22, "$filter: given more than once", ""},
		{"raw hash", "?$filter=a eq '{{x}}#'", 20, "$filter: a raw # would end the URL here: write %23", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTemplate(tt.template)
			var te *TemplateError
			if !errors.As(err, &te) {
				t.Fatalf("ParseTemplate(%q) error = %v, want a *TemplateError", tt.template, err)
			}
			if te.Offset != tt.offset || !strings.Contains(te.Msg, tt.msg) || !strings.Contains(te.Fix, tt.fix) {
				t.Errorf("ParseTemplate(%q) = offset %d, msg %q, fix %q\nwant offset %d, msg containing %q, fix containing %q",
					tt.template, te.Offset, te.Msg, te.Fix, tt.offset, tt.msg, tt.fix)
			}
		})
	}
}

func TestRenderEscapesByContext(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  string
	}{
		{"digits stay readable", "0299990000",
			"?$select=fullname,telephone1,mobilephone&$filter=telephone1 eq '0299990000'&$search=0299990000 or 0299990000"},
		{"plus and spaces encoded, search quoted", "+61 2 9999 0000",
			"?$select=fullname,telephone1,mobilephone&$filter=telephone1 eq '%2B61%202%209999%200000'&$search=%22%2B61%202%209999%200000%22 or %22%2B61%202%209999%200000%22"},
		{"quote doubled in filter, plain in search", "O'Bryan",
			"?$select=fullname,telephone1,mobilephone&$filter=telephone1 eq 'O''Bryan'&$search=%22O'Bryan%22 or %22O'Bryan%22"},
		{"hostile caller ID", "' or 1 eq 1 or telephone1 eq '",
			"?$select=fullname,telephone1,mobilephone&$filter=telephone1 eq '''%20or%201%20eq%201%20or%20telephone1%20eq%20'''&$search=%22'%20or%201%20eq%201%20or%20telephone1%20eq%20'%22 or %22'%20or%201%20eq%201%20or%20telephone1%20eq%20'%22"},
		{"phrase escapes", `a"b\c`,
			`?$select=fullname,telephone1,mobilephone&$filter=telephone1 eq 'a%22b%5Cc'&$search=%22a%5C%22b%5C%5Cc%22 or %22a%5C%22b%5C%5Cc%22`},
		{"search keyword quoted", "OR",
			"?$select=fullname,telephone1,mobilephone&$filter=telephone1 eq 'OR'&$search=%22OR%22 or %22OR%22"},
		{"empty value", "",
			"?$select=fullname,telephone1,mobilephone&$filter=telephone1 eq ''&$search=%22%22 or %22%22"},
		{"non-ASCII as UTF-8", "é",
			"?$select=fullname,telephone1,mobilephone&$filter=telephone1 eq '%C3%A9'&$search=%22%C3%A9%22 or %22%C3%A9%22"},
		{"invalid UTF-8 replaced", "\xff",
			"?$select=fullname,telephone1,mobilephone&$filter=telephone1 eq '%EF%BF%BD'&$search=%22%EF%BF%BD%22 or %22%EF%BF%BD%22"},
	}
	tp := mustTemplate(t, referenceDefault)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tp.Render(same(tt.value))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Render(%q) =\n%s\nwant\n%s", tt.value, got, tt.want)
			}
		})
	}
}

func TestRenderHostileValues(t *testing.T) {
	templates := []struct {
		name      string
		source    string
		literals  func(v string) []string // the $filter literals after decoding
		terms     func(v string) []string // the $search terms after decoding
		operators []string                // the $search operators
		selects   []string                // $select, which values must not touch
	}{
		{
			name:      "reference default",
			source:    referenceDefault,
			literals:  func(v string) []string { return []string{v} },
			terms:     func(v string) []string { return []string{v, v} },
			operators: []string{"or"},
			selects:   []string{"fullname", "telephone1", "mobilephone"},
		},
		{
			name:      "functions, fixed text around values, search operators",
			source:    "?$select=fullname&$filter=contains(fullname,'{{v}}') or telephone1 eq '%2B61{{v}}' or fullname eq '{{v}} ''{{v}}'''&$top=5&$search=-{{v}} | ({{v}}* AND \"x y\")",
			literals:  func(v string) []string { return []string{v, "+61" + v, v + " '" + v + "'"} },
			terms:     func(v string) []string { return []string{v, v, "x y"} },
			operators: []string{"-", "|", "(", "*", "AND", ")"},
			selects:   []string{"fullname"},
		},
	}
	values := []struct {
		name  string
		value string
	}{
		{"digits", "0299990000"},
		{"E.164", "+61299990000"},
		{"single quote", "'"},
		{"quotes", "''''"},
		{"injection that closes the literal", "' or 1 eq 1 or telephone1 eq '"},
		{"injection with parentheses", "x') or (statecode eq 0 or telephone1 eq 'y"},
		{"ampersand starts a parameter", "a&$top=5000"},
		{"filter inside a value", "&$filter=telephone1 ne null"},
		{"dollar", "$"},
		{"percent", "%"},
		{"percent escape text", "%27%26%23"},
		{"hash", "#x"},
		{"plus", "+"},
		{"equals", "=a=b"},
		{"semicolon", ";a"},
		{"question mark", "?a"},
		{"backslash", `\`},
		{"double quote", `"`},
		{"spaces and tabs", " a\tb "},
		{"NUL and control characters", "\x00\x01\x1f\x7f\r\n"},
		{"unicode", "Zoë Ñúñez 电话"},
		{"emoji", "📞☎️"},
		{"invalid UTF-8", "\xff\xfe\xc3(\xed\xa0\x80"},
		{"replacement character itself", "\uFFFD"},
		{"OData keywords", "null"},
		{"true", "true"},
		{"eq", "eq"},
		{"another placeholder", "{{mobilephone}}"},
		{"unbalanced braces", "{{x"},
		{"search OR", "a OR b"},
		{"search or lower case", "or"},
		{"search AND", "AND"},
		{"search NOT word", "not"},
		{"search prefix operators", "-x +y !z"},
		{"search wildcard and fuzzy", "ab* c~2 d?"},
		{"search double operators", "a && b || c"},
		{"search phrase breakout", `" OR "`},
		{"search escape breakout", `\" OR \`},
		{"search parentheses", ")("},
		{"lucene field syntax", "telephone1:[0 TO 9]"},
		{"very long digits", strings.Repeat("0123456789", 10_000)},
		{"very long hostile", strings.Repeat("' or \" & # % + ", 7_000)},
		{"empty", ""},
	}
	for _, tmpl := range templates {
		tp := mustTemplate(t, tmpl.source)
		for _, tv := range values {
			t.Run(tmpl.name+"/"+tv.name, func(t *testing.T) {
				out, err := tp.Render(same(tv.value))
				if err != nil {
					t.Fatalf("Render: the structural proof failed: %v", err)
				}
				if err := tp.checkStructure(out); err != nil {
					t.Fatalf("checkStructure: %v", err)
				}
				q, err := ParseQuery(out)
				if err != nil {
					t.Fatalf("ParseQuery(rendered): %v", err)
				}
				want := validUTF8(tv.value)
				if got := literalValues(q.FilterExpr); !reflect.DeepEqual(got, tmpl.literals(want)) {
					t.Errorf("filter literals = %q, want %q", got, tmpl.literals(want))
				}
				terms, operators := searchParts(t, q.Search)
				if !reflect.DeepEqual(terms, tmpl.terms(want)) {
					t.Errorf("search terms = %q, want %q", terms, tmpl.terms(want))
				}
				if !reflect.DeepEqual(operators, tmpl.operators) {
					t.Errorf("search operators = %q, want %q", operators, tmpl.operators)
				}
				if q.Other != nil {
					t.Errorf("the value added parameters: %v", q.Other)
				}
				if !reflect.DeepEqual(q.Select, tmpl.selects) {
					t.Errorf("Select = %q, want %q", q.Select, tmpl.selects)
				}
			})
		}
	}
}

func TestRenderFilterTreeKeepsItsShape(t *testing.T) {
	// The hostile caller ID still compares telephone1 with one literal
	// holding exactly the caller ID.
	const hostile = "' or 1 eq 1 or telephone1 eq '"
	out, err := mustTemplate(t, referenceDefault).Render(same(hostile))
	if err != nil {
		t.Fatal(err)
	}
	q, err := ParseQuery(out)
	if err != nil {
		t.Fatal(err)
	}
	want := bin(OpEq, prop("telephone1"), str(hostile))
	if !sameExpr(q.FilterExpr, want) {
		t.Errorf("filter = %s, want %s", FormatFilter(q.FilterExpr), FormatFilter(want))
	}
}

func TestRenderAsksForEachOccurrence(t *testing.T) {
	tp := mustTemplate(t, referenceDefault)
	var asked []string
	_, err := tp.Render(func(name string) string {
		asked = append(asked, name)
		return "1"
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"telephone1", "telephone1", "mobilephone"}; !reflect.DeepEqual(asked, want) {
		t.Errorf("value asked for %q, want %q", asked, want)
	}
}

// naiveRender fills the template without any escaping: what the proof must
// catch if escaping were ever wrong.
func naiveRender(tp *Template, v string) string {
	var b strings.Builder
	b.WriteString(tp.segments[0])
	for _, seg := range tp.segments[1:] {
		b.WriteString(v)
		b.WriteString(seg)
	}
	return b.String()
}

func TestStructureCheckCatchesUnescapedValues(t *testing.T) {
	tests := []struct {
		name     string
		template string
		value    string
		want     string // a part of the error
	}{
		{"literal closed and condition added", referenceDefault, "' or 1 eq 1 or telephone1 eq '", "$filter has"},
		{"function name smuggled", "?$filter=telephone1 eq '{{v}}'", "x' or contains(fullname,'a", "$filter has"},
		{"second filter added", "?$filter=telephone1 eq '{{v}}'", "'&$filter=telephone1 eq 5 or '", "more parameters"},
		{"parameter added", referencePreview, "1'&$top=5000&$search=x", "parameter 3 does not start with"},
		{"URL cut by a hash", referencePreview, "1#", "does not decode"},
		{"search operator added", referencePreview, "1 OR 2", "$search has"},
		{"search phrase left open", referencePreview, `"1`, "$search does not lex"},
		{"search term split", referenceDefault, "a b", "$search token 1 differs"},
		{"filter operator swapped", "?$filter=a eq '{{v}}' and b eq '{{v}}'", "x' or b eq 'y", "$filter token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := mustTemplate(t, tt.template)
			err := tp.checkStructure(naiveRender(tp, tt.value))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("checkStructure(naive rendering) = %v, want an error containing %q", err, tt.want)
			}
			if _, err := tp.Render(same(tt.value)); err != nil {
				t.Errorf("Render with escaping: %v", err)
			}
		})
	}
}

func TestStructureCheckCatchesChangedTemplateText(t *testing.T) {
	tp := mustTemplate(t, referenceDefault)
	good, err := tp.Render(same("1"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		out  string
	}{
		{"select changed", strings.Replace(good, "fullname", "fullnam", 1)},
		{"property renamed", strings.Replace(good, "telephone1 eq", "mobilephone eq", 1)},
		{"operator changed", strings.Replace(good, " eq ", " ne ", 1)},
		{"search operator changed", strings.Replace(good, " or ", " and ", 1)},
		{"question mark dropped", good[1:]},
		{"parameter dropped", good[:strings.LastIndex(good, "&")]},
		{"literal became a number", strings.Replace(good, "'1'", "1", 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tp.checkStructure(tt.out); err == nil {
				t.Errorf("checkStructure(%q) passed, want an error", tt.out)
			}
		})
	}
	if err := tp.checkStructure(good); err != nil {
		t.Errorf("checkStructure(good rendering) = %v", err)
	}
}

func BenchmarkRenderReferenceDefault(b *testing.B) {
	tp := mustTemplate(b, referenceDefault)
	value := func(name string) string {
		if name == "telephone1" {
			return "029999000012"
		}
		return "041234567890"
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tp.Render(value); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderReferenceDefaultE164(b *testing.B) {
	tp := mustTemplate(b, referenceDefault)
	value := func(name string) string {
		if name == "telephone1" {
			return "+61299990000"
		}
		return "+61412345678"
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tp.Render(value); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseTemplateReferenceDefault(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseTemplate(referenceDefault); err != nil {
			b.Fatal(err)
		}
	}
}
