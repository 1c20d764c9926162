package odata

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func mustVariantsTemplate(tb testing.TB, src string, names ...string) *Template {
	tb.Helper()
	tp, err := ParseTemplateVariants(src, names)
	if err != nil {
		tb.Fatalf("ParseTemplateVariants(%q, %q): %v", src, names, err)
	}
	return tp
}

func TestRenderVariants(t *testing.T) {
	writings := []string{"(02) 9999 0000", "0299990000", "+61 2 9999 0000"}
	tests := []struct {
		name, template string
		variants       []string
		writings       []string
		want           string
	}{
		{name: "eq in $filter, and $search terms", template: referencePreview, variants: []string{"telephone1"}, writings: writings,
			want: "?$select=fullname,telephone1,mobilephone&$filter=(telephone1 eq '%2802%29%209999%200000' or telephone1 eq '0299990000' or telephone1 eq '%2B61%202%209999%200000')" +
				"&$search=(%22%2802%29%209999%200000%22 OR 0299990000 OR %22%2B61%202%209999%200000%22)"},
		{name: "a placeholder without variants is written once", template: referenceDefault, variants: []string{"telephone1"}, writings: writings[1:2],
			want: "?$select=fullname,telephone1,mobilephone&$filter=(telephone1 eq '0299990000')&$search=(0299990000) or 0412345678"},
		{name: "contains, startswith and endswith", variants: []string{"t"}, writings: writings[:2],
			template: "?$filter=contains(telephone1,'{{t}}') or startswith(mobilephone, '{{t}}') or endswith(tolower(fax),'{{t}}')",
			want: "?$filter=(contains(telephone1,'%2802%29%209999%200000') or contains(telephone1,'0299990000')) or " +
				"(startswith(mobilephone, '%2802%29%209999%200000') or startswith(mobilephone, '0299990000')) or " +
				"(endswith(tolower(fax),'%2802%29%209999%200000') or endswith(tolower(fax),'0299990000'))"},
		{name: "literal on the left, inside not and and", variants: []string{"t"}, writings: writings[1:],
			template: "?$filter=statecode eq 0 and not ('{{t}}' eq telephone1)",
			want:     "?$filter=statecode eq 0 and not (('0299990000' eq telephone1 or '%2B61%202%209999%200000' eq telephone1))"},
		{name: "a template written with %20 gets %20or%20", variants: []string{"t"}, writings: writings[1:],
			template: "$filter=telephone1%20eq%20'{{t}}'",
			want:     "$filter=(telephone1%20eq%20'0299990000'%20or%20telephone1%20eq%20'%2B61%202%209999%200000')"},
		{name: "no writings: one empty literal", template: "?$filter=telephone1 eq '{{t}}'", variants: []string{"t"},
			want: "?$filter=(telephone1 eq '')"},
		{name: "a hostile writing stays one literal", template: "?$filter=telephone1 eq '{{t}}'", variants: []string{"t"},
			writings: []string{"' or 1 eq 1 or telephone1 eq '", "x')&$top=1#"},
			want:     "?$filter=(telephone1 eq '''%20or%201%20eq%201%20or%20telephone1%20eq%20''' or telephone1 eq 'x''%29%26%24top%3D1%23')"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := mustVariantsTemplate(t, tt.template, tt.variants...)
			got, kept, err := tp.RenderVariants(func(string) string { return "0412345678" }, func(string) []string { return tt.writings }, MaxQueryBytes)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("RenderVariants =\n%s\nwant\n%s", got, tt.want)
			}
			if kept != max(1, len(tt.writings)) {
				t.Errorf("kept %d, want %d", kept, len(tt.writings))
			}
			q, err := ParseQuery(got)
			if err != nil {
				t.Fatalf("ParseQuery: %v", err)
			}
			want := tt.writings
			if len(want) == 0 {
				want = []string{""}
			}
			if lits := literalValues(q.FilterExpr); !strings.Contains(tt.template, "statecode") && !reflect.DeepEqual(lits[:len(want)], want) {
				t.Errorf("literals %q, want the writings %q first", lits, want)
			}
		})
	}
}

func TestRenderVariantsKeepsTheQueryUnderItsCap(t *testing.T) {
	tp := mustVariantsTemplate(t, referencePreview, "telephone1")
	writings := make([]string, 16)
	for i := range writings {
		writings[i] = strings.Repeat(string(rune('0'+i%10)), 20) + " (x)"
	}
	full, kept, err := tp.RenderVariants(same(""), func(string) []string { return writings }, MaxQueryBytes)
	if err != nil || kept != 16 {
		t.Fatalf("uncapped: kept %d, %v", kept, err)
	}
	limit := len(full) / 2
	got, kept, err := tp.RenderVariants(same(""), func(string) []string { return writings }, limit)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) > limit || kept >= 16 || kept < 1 {
		t.Fatalf("capped at %d bytes: %d bytes, kept %d", limit, len(got), kept)
	}
	if strings.Count(got, "telephone1 eq") != kept {
		t.Errorf("%d comparisons, want %d", strings.Count(got, "telephone1 eq"), kept)
	}
	// One writing is always kept, even over the cap: a pop is never lost.
	got, kept, err = tp.RenderVariants(same(""), func(string) []string { return writings }, 10)
	if err != nil || kept != 1 || strings.Count(got, "telephone1 eq") != 1 {
		t.Fatalf("tiny cap: kept %d, %v, %q", kept, err, got)
	}
}

func TestParseTemplateVariantsErrors(t *testing.T) {
	tests := []struct {
		name, template, want string
	}{
		{"ne", "?$filter=telephone1 ne '{{t}}'", "is compared with ne: the writings can only be joined for eq"},
		{"gt", "?$filter=telephone1 gt '{{t}}'", "is compared with gt"},
		{"other text in the literal", "?$filter=telephone1 eq '%2B{{t}}'", "shares its string literal with other text"},
		{"two literals", "?$filter='{{t}}' eq 'x'", "is not compared with a column"},
		{"first argument of contains", "?$filter=contains('{{t}}',telephone1)", "must be the second argument of contains"},
		{"argument of tolower", "?$filter=telephone1 eq tolower('{{t}}')", "is an argument of tolower"},
		{"parenthesised column", "?$filter=(telephone1) eq '{{t}}'", "has parentheses inside its comparison"},
		{"parenthesised literal", "?$filter=contains(telephone1,('{{t}}'))", "has parentheses inside its comparison"},
		{"second occurrence", "?$filter=telephone1 eq '{{t}}' or mobilephone ne '{{t}}'", "is compared with ne"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTemplateVariants(tt.template, []string{"t"})
			var te *TemplateError
			if !errors.As(err, &te) || !strings.Contains(te.Msg, tt.want) {
				t.Fatalf("error %v, want a *TemplateError containing %q", err, tt.want)
			}
			if !strings.HasPrefix(tt.template[te.Offset:], "{{t}}") {
				t.Errorf("offset %d points at %q, not at the placeholder", te.Offset, tt.template[te.Offset:])
			}
			if _, err := ParseTemplate(tt.template); err != nil && tt.name != "two literals" {
				t.Errorf("the template itself is fine without variants, yet: %v", err)
			}
		})
	}
}

// FuzzRenderVariants holds every writing, whatever it holds, to one
// literal in $filter and one term in $search, for templates with each kind
// of site.
func FuzzRenderVariants(f *testing.F) {
	for _, seed := range [][2]string{
		{"0299990000", "+61 2 9999 0000"},
		{"' or 1 eq 1 or telephone1 eq '", `" OR "`},
		{"&$filter=x eq 'y'#", "%41\\"},
		{"\xff\x00", ") or (a eq 'b'"},
		{"", "AND"},
	} {
		f.Add(seed[0], seed[1])
	}
	sources := []string{
		referenceDefault,
		"?$filter=contains(telephone1,'{{a}}') or (startswith(mobilephone,'{{a}}') and not endswith(tolower(fax),'{{b}}'))&$top=5",
		"$filter='{{a}}' eq telephone1 and fullname eq '{{b}}'&$search=-{{a}} | ({{b}}* AND \"fixed phrase\")",
		"?$filter=telephone1%20eq%20'{{a}}'%20or%20mobilephone%20eq%20'{{a}}'",
	}
	templates := make([]*Template, len(sources))
	for i, s := range sources {
		templates[i] = mustVariantsTemplate(f, strings.NewReplacer("telephone1}}", "a}}", "mobilephone}}", "b}}").Replace(s), "a")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		writings := []string{a, b, a + b}
		for i, tp := range templates {
			// No cap: the fuzzer's long values would have writings cut.
			out, kept, err := tp.RenderVariants(same(b), func(string) []string { return writings }, 1<<30)
			if err != nil {
				t.Fatalf("RenderVariants(%q) with %q: %v", tp.Source(), writings, err)
			}
			if kept != 3 {
				t.Fatalf("kept %d", kept)
			}
			q, err := ParseQuery(out)
			if err != nil {
				t.Fatalf("ParseQuery(%q): %v", out, err)
			}
			// Every writing of {{a}} is a whole literal, in order, at each site.
			w := []string{validUTF8(a), validUTF8(b), validUTF8(a + b)}
			want := [][]string{w, append(append(slices.Clone(w), w...), validUTF8(b)), append(slices.Clone(w), validUTF8(b)), append(slices.Clone(w), w...)}[i]
			if lits := literalValues(q.FilterExpr); !reflect.DeepEqual(lits, want) {
				t.Fatalf("literals %q, want %q (rendered %q)", lits, want, out)
			}
			if q.Search != "" {
				terms, _ := searchParts(t, q.Search)
				if len(terms) < 3 || terms[0] != validUTF8(a) || terms[1] != validUTF8(b) || terms[2] != validUTF8(a+b) {
					t.Fatalf("search terms %q, want the writings first (rendered %q)", terms, out)
				}
			}
		}
	})
}
