package odata

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func FuzzParseFilter(f *testing.F) {
	for _, seed := range []string{
		"telephone1 eq '0299990000'",
		"(a eq 1 or b ne 'x''y') and not contains(tolower(fullname),'smith')",
		"a eq -1.5e3 and b eq null and c eq true and _d_value eq 00000000-0000-0000-0000-000000000000",
		"parentcustomerid_account/name eq 'x' or startswith(a,'b') or endswith(c,'d')",
		"not not donotphone",
		"a eq '",
		"((((a",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, filter string) {
		e, err := ParseFilter(filter)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a *SyntaxError", err)
			}
			if se.Offset < 0 || se.Offset > len(filter) {
				t.Fatalf("offset %d outside the input of %d bytes", se.Offset, len(filter))
			}
			return
		}
		text := FormatFilter(e)
		again, err := ParseFilter(text)
		if err != nil {
			t.Fatalf("ParseFilter(FormatFilter(%q)) = ParseFilter(%q): %v", filter, text, err)
		}
		if !sameExpr(again, e) {
			t.Fatalf("round trip changed the tree: %q -> %q -> %q", filter, text, FormatFilter(again))
		}
		if FormatFilter(again) != text {
			t.Fatalf("FormatFilter is not stable: %q then %q", text, FormatFilter(again))
		}
	})
}

// fuzzTemplates are the templates FuzzRender fills. Each says which
// literals and search terms a rendering must decode to, given the values of
// {{a}} and {{b}} (after invalid UTF-8 is replaced).
var fuzzTemplates = []struct {
	source   string
	literals func(a, b string) []string
	terms    func(a, b string) []string
}{
	{
		source:   strings.NewReplacer("telephone1}}", "a}}", "mobilephone}}", "b}}").Replace(referenceDefault),
		literals: func(a, b string) []string { return []string{a} },
		terms:    func(a, b string) []string { return []string{a, b} },
	},
	{
		source:   strings.ReplaceAll(referencePreview, "{{telephone1}}", "{{b}}"),
		literals: func(a, b string) []string { return []string{b} },
		terms:    func(a, b string) []string { return []string{b} },
	},
	{
		source: "?$filter=contains(fullname,'{{a}}') or (startswith(telephone1,'%2B61{{b}}') and not endswith(tolower(emailaddress1),'@{{a}}.com'))&$top=5&$orderby=fullname desc",
		literals: func(a, b string) []string {
			return []string{a, "+61" + b, "@" + a + ".com"}
		},
		terms: func(a, b string) []string { return nil },
	},
	{
		source:   "?$filter=fullname eq '{{a}} {{b}}' and statecode eq 0&$search=-{{a}} | ({{b}}* AND \"fixed phrase\")",
		literals: func(a, b string) []string { return []string{a + " " + b} },
		terms:    func(a, b string) []string { return []string{a, b, "fixed phrase"} },
	},
	{
		source:   "$filter=_parentcustomerid_value eq 00000000-0000-0000-0000-000000000001 and telephone1 eq '''{{a}}'''",
		literals: func(a, b string) []string { return []string{"'" + a + "'"} },
		terms:    func(a, b string) []string { return nil },
	},
}

func FuzzRender(f *testing.F) {
	for _, seed := range [][2]string{
		{"0299990000", "+61412345678"},
		{"' or 1 eq 1 or telephone1 eq '", `" OR "`},
		{"&$filter=x eq 'y'#", "%41\\"},
		{"\xff\x00", "{{a}}"},
		{"", "AND"},
	} {
		f.Add(seed[0], seed[1])
	}
	templates := make([]*Template, len(fuzzTemplates))
	for i, ft := range fuzzTemplates {
		templates[i] = mustTemplate(f, ft.source)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		value := func(name string) string {
			if name == "a" {
				return a
			}
			return b
		}
		wantA, wantB := validUTF8(a), validUTF8(b)
		for i, tp := range templates {
			out, err := tp.Render(value)
			if err != nil {
				t.Fatalf("Render(%q) with a=%q b=%q: %v", tp.Source(), a, b, err)
			}
			q, err := ParseQuery(out)
			if err != nil {
				t.Fatalf("ParseQuery(%q): %v", out, err)
			}
			if got, want := literalValues(q.FilterExpr), fuzzTemplates[i].literals(wantA, wantB); !reflect.DeepEqual(got, want) {
				t.Fatalf("template %d: literals %q, want %q (rendered %q)", i, got, want, out)
			}
			terms, _ := searchParts(t, q.Search)
			if want := fuzzTemplates[i].terms(wantA, wantB); !reflect.DeepEqual(terms, want) {
				t.Fatalf("template %d: search terms %q, want %q (rendered %q)", i, terms, want, out)
			}
		}
	})
}

func FuzzParseTemplate(f *testing.F) {
	for _, seed := range []string{
		referenceDefault,
		referencePreview,
		"?$filter=contains(fullname,'{{a}} {{b}}')&$search=-{{a}} | ({{b}}*)&$top=5",
		"?$filter=a eq {{x}}",
		"?$search=\"{{x}}\"",
		"?$filter=a%20eq%20'%{{x}}'",
		"?$filter=contains(a,'{{x}}') or '{{y}}' eq tolower(b)&$search=({{x}} OR -{{y}})",
		"{{",
		"}}",
	} {
		f.Add(seed)
	}
	hostile := []string{"0299990000", "' or 1 eq 1 or telephone1 eq '", `a OR "b" \`, "", "\xff&#%+"}
	f.Fuzz(func(t *testing.T, src string) {
		tp, err := ParseTemplate(src)
		if err != nil {
			var te *TemplateError
			if !errors.As(err, &te) {
				t.Fatalf("error %v is not a *TemplateError", err)
			}
			if te.Offset < 0 || te.Offset > len(src) {
				t.Fatalf("offset %d outside the template of %d bytes", te.Offset, len(src))
			}
			return
		}
		// Whatever template the compiler accepts, every value renders to
		// a query with the template's structure.
		for _, v := range hostile {
			out, err := tp.Render(same(v))
			if err != nil {
				t.Fatalf("ParseTemplate accepted %q but Render(%q) failed: %v", src, v, err)
			}
			if _, err := ParseQuery(out); err != nil {
				t.Fatalf("ParseTemplate accepted %q but ParseQuery(Render(%q)) failed: %v", src, v, err)
			}
		}
		// And with every placeholder taking variants, wherever the
		// compiler lets them expand, every writing stays one literal.
		tv, err := ParseTemplateVariants(src, tp.Names())
		if err != nil {
			var te *TemplateError
			if !errors.As(err, &te) || te.Offset < 0 || te.Offset > len(src) {
				t.Fatalf("ParseTemplateVariants(%q): %v, not a *TemplateError with an offset in the template", src, err)
			}
			return
		}
		out, _, err := tv.RenderVariants(same("x"), func(string) []string { return hostile }, MaxQueryBytes)
		if err != nil {
			t.Fatalf("ParseTemplateVariants accepted %q but RenderVariants failed: %v", src, err)
		}
		if _, err := ParseQuery(out); err != nil {
			t.Fatalf("ParseTemplateVariants accepted %q but ParseQuery(RenderVariants) failed: %v", src, err)
		}
	})
}
