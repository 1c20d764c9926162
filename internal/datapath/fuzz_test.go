package datapath

import (
	"reflect"
	"testing"
)

// FuzzParse holds Parse to three promises: it never panics; whatever it
// accepts reparses from String() to the same steps; and the canonical
// spelling reparses to the same steps, which checks that quoting round-trips.
// Accepted paths are also looked up in a small document so Lookup is
// exercised on every shape of path the fuzzer invents.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"interaction.activity.customerCli",
		"interaction.leadData.phones.index=1[phone]",
		"phones.0.phone",
		"phones[0].phone",
		"phones.type=mobile[phone]",
		"phones[type='work phone'].phone",
		`custom["a [b]"]['it\'s'][x.y]`,
		"[0].a=-1.5e3",
		"x.y[",
		"a..b",
	} {
		f.Add(seed)
	}
	doc := map[string]any{
		"a": map[string]any{"b": "c", "0": []any{"x", map[string]any{"n": 1.0, "s": "1"}}},
		"phones": []any{
			map[string]any{"index": 1.0, "phone": "0299990000", "type": "home"},
			map[string]any{"index": "2", "phone": nil, "flag": true},
			[]any{}, nil,
		},
	}
	f.Fuzz(func(t *testing.T, expr string) {
		p, err := Parse(expr)
		if err != nil {
			if _, ok := err.(*SyntaxError); !ok {
				t.Fatalf("Parse(%q) error is %T, want *SyntaxError", expr, err)
			}
			return
		}
		if p.String() != expr {
			t.Fatalf("String() = %q, want %q", p.String(), expr)
		}
		again, err := Parse(p.String())
		if err != nil {
			t.Fatalf("Parse(String() %q): %v", p.String(), err)
		}
		if !reflect.DeepEqual(again.steps, p.steps) {
			t.Fatalf("Parse(String()) steps %+v, want %+v", again.steps, p.steps)
		}
		c := p.canonical()
		fromCanonical, err := Parse(c)
		if err != nil {
			t.Fatalf("Parse(canonical %q of %q): %v", c, expr, err)
		}
		if !reflect.DeepEqual(stripSources(fromCanonical.steps), stripSources(p.steps)) {
			t.Fatalf("canonical %q of %q parses to %+v, want %+v", c, expr, fromCanonical.steps, p.steps)
		}
		if _, err := p.LookupString(doc); err != nil {
			if _, ok := err.(*NotFoundError); !ok {
				t.Fatalf("LookupString(%q) error is %T, want *NotFoundError", expr, err)
			}
		}
	})
}
