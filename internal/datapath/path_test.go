package datapath

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

// loadEvent decodes testdata/preview_event.json the way the server does
// (float64 numbers), or with json.Number when useNumber is set.
func loadEvent(t testing.TB, useNumber bool) map[string]any {
	t.Helper()
	raw, err := os.ReadFile("testdata/preview_event.json")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if useNumber {
		dec.UseNumber()
	}
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestParseCompilesSteps(t *testing.T) {
	key := func(k string) step { return step{kind: stepKey, key: k, index: -1} }
	idx := func(k string, i int) step { return step{kind: stepKeyOrIndex, key: k, index: i} }
	sel := func(field, value string, isNum bool, num float64) step {
		return step{kind: stepSelect, key: field, value: value, index: -1, valueIsNumber: isNum, number: num}
	}
	tests := []struct {
		name string
		expr string
		want []step
	}{
		{name: "dotted keys", expr: "interaction.activity.customerCli",
			want: []step{key("interaction"), key("activity"), key("customerCli")}},
		{name: "reference selector with bracketed field", expr: "interaction.leadData.phones.index=1[phone]",
			want: []step{key("interaction"), key("leadData"), key("phones"), sel("index", "1", true, 1), key("phone")}},
		{name: "dotted numeric index", expr: "phones.0.phone",
			want: []step{key("phones"), idx("0", 0), key("phone")}},
		{name: "bracketed numeric index", expr: "phones[0].phone",
			want: []step{key("phones"), idx("0", 0), key("phone")}},
		{name: "index with leading zero keeps its digits as key", expr: "phones[01]",
			want: []step{key("phones"), idx("01", 1)}},
		{name: "index too large for int never matches an array", expr: "phones.99999999999999999999999",
			want: []step{key("phones"), idx("99999999999999999999999", -1)}},
		{name: "string selector", expr: "phones.type=mobile[phone]",
			want: []step{key("phones"), sel("type", "mobile", false, 0), key("phone")}},
		{name: "bracketed selector", expr: "phones[type=mobile].phone",
			want: []step{key("phones"), sel("type", "mobile", false, 0), key("phone")}},
		{name: "negative decimal selector value in brackets", expr: "a[score=-4.5]",
			want: []step{key("a"), sel("score", "-4.5", true, -4.5)}},
		{name: "exponent selector value", expr: "a[n=1e3]",
			want: []step{key("a"), sel("n", "1e3", true, 1000)}},
		{name: "quoted selector value is still compared as a number", expr: "a.n='1.5'",
			want: []step{key("a"), sel("n", "1.5", true, 1.5)}},
		{name: "words ParseFloat takes are not numbers", expr: "a[n=Inf]",
			want: []step{key("a"), sel("n", "Inf", false, 0)}},
		{name: "dots are literal inside brackets", expr: "custom[x.forwarded.for]",
			want: []step{key("custom"), key("x.forwarded.for")}},
		{name: "single quoted key", expr: "custom['a [b]']",
			want: []step{key("custom"), key("a [b]")}},
		{name: "double quoted key with escaped quote", expr: `custom["say \"hi\""]`,
			want: []step{key("custom"), key(`say "hi"`)}},
		{name: "escaped single quote and backslash", expr: `custom['it\'s\\']`,
			want: []step{key("custom"), key(`it's\`)}},
		{name: "quoted digits are a key, not an index", expr: "custom.'0'",
			want: []step{key("custom"), key("0")}},
		{name: "empty quoted key", expr: "custom['']",
			want: []step{key("custom"), key("")}},
		{name: "path starting with a bracket reads a root array", expr: "[1].phone",
			want: []step{idx("1", 1), key("phone")}},
		{name: "unicode key", expr: "données.téléphone",
			want: []step{key("données"), key("téléphone")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.expr)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.expr, err)
			}
			if p.String() != tt.expr {
				t.Errorf("String() = %q, want the expression as written %q", p.String(), tt.expr)
			}
			if got := stripSources(p.steps); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse(%q) steps\n got %+v\nwant %+v", tt.expr, got, tt.want)
			}
		})
	}
}

func stripSources(steps []step) []step {
	out := make([]step, len(steps))
	for i, s := range steps {
		s.src = ""
		out[i] = s
	}
	return out
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name       string
		expr       string
		wantOffset int
		wantMsg    string
	}{
		{name: "empty", expr: "", wantOffset: 0, wantMsg: "empty path"},
		{name: "unclosed bracket at end", expr: "x.y[", wantOffset: 4, wantMsg: "expected a key, index or selector at the end of the path"},
		{name: "bracket not closed", expr: "x.y[0", wantOffset: 5, wantMsg: `expected "]" to close the "[" at offset 3`},
		{name: "leading dot", expr: ".x", wantOffset: 0, wantMsg: `expected a key, index or selector, found '.'`},
		{name: "trailing dot", expr: "x.", wantOffset: 2, wantMsg: "at the end of the path"},
		{name: "double dot", expr: "x..y", wantOffset: 2, wantMsg: `found '.'`},
		{name: "empty brackets", expr: "x[]", wantOffset: 2, wantMsg: `found ']'`},
		{name: "stray closing bracket", expr: "x]", wantOffset: 1, wantMsg: `unexpected ']' after a step`},
		{name: "word after bracket without dot", expr: "x[0]y", wantOffset: 4, wantMsg: `unexpected 'y' after a step: expected "." or "["`},
		{name: "space in a bare key", expr: "interaction.activity.customer Cli", wantOffset: 29, wantMsg: `unexpected ' '`},
		{name: "trailing space", expr: "interaction ", wantOffset: 11, wantMsg: `unexpected ' '`},
		{name: "selector without value", expr: "phones.index=[phone]", wantOffset: 13, wantMsg: `expected a value to compare after "=", found '['`},
		{name: "selector value at end", expr: "phones.index=", wantOffset: 13, wantMsg: `expected a value to compare after "=" at the end of the path`},
		{name: "second equals in brackets", expr: "phones[a=b=c]", wantOffset: 10, wantMsg: `unexpected '=' in brackets`},
		{name: "unterminated quote", expr: "x['abc", wantOffset: 2, wantMsg: "unterminated quote: add the closing '"},
		{name: "unknown escape", expr: `x['a\nb']`, wantOffset: 4, wantMsg: `unknown escape \n`},
		{name: "backslash at end", expr: `x['a\`, wantOffset: 4, wantMsg: "backslash at the end of the path"},
		{name: "invalid UTF-8", expr: "x.\xff", wantOffset: 2, wantMsg: "invalid UTF-8"},
		{name: "control character", expr: "x.a\tb", wantOffset: 3, wantMsg: `unexpected '\t'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.expr)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want a syntax error", tt.expr, p.steps)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error %T %v, want *SyntaxError", tt.expr, err, err)
			}
			if se.Expr != tt.expr || se.Offset != tt.wantOffset || !strings.Contains(se.Msg, tt.wantMsg) {
				t.Errorf("Parse(%q) = %+v, want offset %d and a message containing %q", tt.expr, se, tt.wantOffset, tt.wantMsg)
			}
		})
	}
}

func TestSyntaxErrorMessage(t *testing.T) {
	_, err := Parse("x.y[")
	want := `path "x.y[": offset 4: expected a key, index or selector at the end of the path`
	if err == nil || err.Error() != want {
		t.Errorf("Parse(\"x.y[\") error = %v, want %s", err, want)
	}
}

func TestLookupString(t *testing.T) {
	tests := []struct {
		name string
		expr string
		want string
	}{
		{name: "string value", expr: "interaction.activity.customerCli", want: "0299990000"},
		{name: "reference selector on a number field", expr: "interaction.leadData.phones.index=1[phone]", want: "0299990000"},
		{name: "selector on a number field matches the second element", expr: "interaction.leadData.phones.index=2[phone]", want: "0412345678"},
		{name: "number selector matches a string field of the same text", expr: "interaction.leadData.phones.index=3[phone]", want: "+44 20 7946 0018"},
		{name: "number selector written with a fraction matches", expr: "interaction.leadData.phones[index=2.0].phone", want: "0412345678"},
		{name: "string selector", expr: "interaction.leadData.phones.type=mobile[phone]", want: "0412345678"},
		{name: "quoted selector value with a space", expr: "interaction.leadData.phones.type='work phone'[phone]", want: "+44 20 7946 0018"},
		{name: "boolean selector", expr: "interaction.leadData.phones[index=true].phone", want: "flagged"},
		{name: "dotted index", expr: "interaction.leadData.phones.1.phone", want: "0412345678"},
		{name: "bracketed index", expr: "interaction.leadData.phones[0].phone", want: "0299990000"},
		{name: "number sent by ipSCAPE as JSON number keeps all digits", expr: "interaction.activity.sourcePhoneNumber", want: "61299990000"},
		{name: "integer number", expr: "interaction.leadData.phoneIndex", want: "2"},
		{name: "id number", expr: "interaction.activity.activityId", want: "5512093"},
		{name: "fractional number", expr: "interaction.activity.score", want: "4.5"},
		{name: "boolean", expr: "interaction.activity.recorded", want: "true"},
		{name: "null is empty text", expr: "interaction.activity.wrapCode", want: ""},
		{name: "key with dots in brackets", expr: "interaction.custom[x.forwarded.for]", want: "10.0.0.1"},
		{name: "quoted key with brackets", expr: `interaction.custom["a [b]"]`, want: "bracketed"},
		{name: "escaped quote in key", expr: `interaction.custom['it\'s']`, want: "apostrophe"},
		{name: "digits read an object key", expr: "interaction.custom.0", want: "zero key"},
		{name: "empty key", expr: "interaction.custom['']", want: "empty key"},
		{name: "deep nesting", expr: "interaction.custom.nested.deep.value", want: "found"},
	}
	for _, useNumber := range []bool{false, true} {
		doc := loadEvent(t, useNumber)
		for _, tt := range tests {
			name := tt.name
			if useNumber {
				name += " (json.Number)"
			}
			t.Run(name, func(t *testing.T) {
				p, err := Parse(tt.expr)
				if err != nil {
					t.Fatal(err)
				}
				got, err := p.LookupString(doc)
				if err != nil {
					t.Fatalf("LookupString(%q): %v", tt.expr, err)
				}
				if got != tt.want {
					t.Errorf("LookupString(%q) = %q, want %q", tt.expr, got, tt.want)
				}
			})
		}
	}
}

func TestLookupReturnsContainers(t *testing.T) {
	doc := loadEvent(t, false)
	p, err := Parse("interaction.leadData.phones.type=home")
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Lookup(doc)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"index": float64(1), "phone": "0299990000", "type": "home"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Lookup = %v, want the selected element %v", got, want)
	}
}

func TestLookupNotFound(t *testing.T) {
	tests := []struct {
		name        string
		expr        string
		wantSegment string
		wantReason  string
	}{
		{name: "misspelt key lists the keys there are", expr: "interaction.activity.customerCLI",
			wantSegment: "customerCLI", wantReason: `no key "customerCLI" (keys: activityId, campaignName, customerCli, destinationPhoneNumber, recorded, score, sourcePhoneNumber, tags, wrapCode)`},
		{name: "key on a string", expr: "interaction.activity.customerCli.x",
			wantSegment: "x", wantReason: "expected an object, found a string"},
		{name: "key through null", expr: "interaction.activity.wrapCode.code",
			wantSegment: "code", wantReason: "expected an object, found null"},
		{name: "no element matches the selector", expr: "interaction.leadData.phones.index=9[phone]",
			wantSegment: "index=9", wantReason: "no element with index=9 (the array has 5 elements)"},
		{name: "selector on an object", expr: "interaction.leadData.index=1[phone]",
			wantSegment: "index=1", wantReason: "expected an array to select from, found an object"},
		{name: "index out of range", expr: "interaction.leadData.phones[5].phone",
			wantSegment: "[5]", wantReason: "index 5 out of range (the array has 5 elements)"},
		{name: "huge index out of range", expr: "interaction.leadData.phones.99999999999999999999",
			wantSegment: "99999999999999999999", wantReason: "index 99999999999999999999 out of range (the array has 5 elements)"},
		{name: "index on a string", expr: "interaction.activity.customerCli.0",
			wantSegment: "0", wantReason: "expected an array or an object, found a string"},
		{name: "key on an empty array", expr: "interaction.activity.tags[0]",
			wantSegment: "[0]", wantReason: "index 0 out of range (the array has 0 elements)"},
		{name: "quoted digits are a key and an array has none", expr: "interaction.leadData.phones['0']",
			wantSegment: "['0']", wantReason: "expected an object, found an array"},
		{name: "selected element lacks the field", expr: "interaction.leadData.phones.index=1[fax]",
			wantSegment: "[fax]", wantReason: `no key "fax" (keys: index, phone, type)`},
	}
	doc := loadEvent(t, false)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			v, err := p.Lookup(doc)
			var nf *NotFoundError
			if !errors.As(err, &nf) {
				t.Fatalf("Lookup(%q) = %v, %v; want a *NotFoundError", tt.expr, v, err)
			}
			if nf.Path != tt.expr || nf.Segment != tt.wantSegment || nf.Reason != tt.wantReason {
				t.Errorf("Lookup(%q) error\n got %+v\nwant segment %q reason %q", tt.expr, nf, tt.wantSegment, tt.wantReason)
			}
		})
	}
}

func TestMissingKeyListIsCapped(t *testing.T) {
	obj := map[string]any{}
	for _, k := range strings.Fields("a b c d e f g h i j k l m n o") {
		obj[k] = k
	}
	p, err := Parse("z")
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Lookup(obj)
	want := `path "z" at "z": no key "z" (keys: a, b, c, d, e, f, g, h, i, j, k, l, and 3 more)`
	if err == nil || err.Error() != want {
		t.Errorf("Lookup error = %v, want %s", err, want)
	}
}

func TestLookupStringRejectsContainers(t *testing.T) {
	tests := []struct {
		name       string
		expr       string
		wantReason string
	}{
		{name: "object", expr: "interaction.activity", wantReason: "expected text, a number, a boolean or null, found an object"},
		{name: "array", expr: "interaction.leadData.phones", wantReason: "expected text, a number, a boolean or null, found an array"},
	}
	doc := loadEvent(t, false)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			s, err := p.LookupString(doc)
			var nf *NotFoundError
			if !errors.As(err, &nf) || nf.Reason != tt.wantReason {
				t.Errorf("LookupString(%q) = %q, %v; want reason %q", tt.expr, s, err, tt.wantReason)
			}
		})
	}
}

func TestLookupStringNumberText(t *testing.T) {
	tests := []struct {
		name  string
		value any
		want  string
	}{
		{name: "float integer", value: float64(1), want: "1"},
		{name: "float E.164 without plus", value: float64(61299990000), want: "61299990000"},
		{name: "float above 1e21 has no exponent", value: float64(1e21), want: "1000000000000000000000"},
		{name: "float fraction", value: 0.25, want: "0.25"},
		{name: "negative float", value: float64(-3), want: "-3"},
		{name: "negative zero", value: -0.0 * 1, want: "0"},
		{name: "json.Number integer kept as sent", value: json.Number("61299990000"), want: "61299990000"},
		{name: "json.Number beyond float64 precision kept exact", value: json.Number("12345678901234567891"), want: "12345678901234567891"},
		{name: "json.Number with trailing .0", value: json.Number("1.0"), want: "1"},
		{name: "json.Number with exponent", value: json.Number("6.1299990000e10"), want: "61299990000"},
		{name: "json.Number negative zero", value: json.Number("-0"), want: "0"},
		{name: "json.Number leading zero normalised", value: json.Number("007"), want: "7"},
		{name: "boolean false", value: false, want: "false"},
	}
	p, err := Parse("v")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.LookupString(map[string]any{"v": tt.value})
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("LookupString(%v) = %q, want %q", tt.value, got, tt.want)
			}
		})
	}
}

func TestLookupDoesNotAllocateOnAHit(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's instrumentation allocates")
	}
	doc := loadEvent(t, false)
	tests := []struct {
		name string
		expr string
	}{
		{name: "dotted keys", expr: "interaction.activity.customerCli"},
		{name: "selector", expr: "interaction.leadData.phones.index=2[phone]"},
		{name: "string selector", expr: "interaction.leadData.phones.type=mobile[phone]"},
		{name: "index", expr: "interaction.leadData.phones[1].phone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			allocs := testing.AllocsPerRun(100, func() {
				if _, err := p.LookupString(doc); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("LookupString(%q) allocates %v times per call, want 0", tt.expr, allocs)
			}
		})
	}
}

func TestCanonicalReparsesToTheSameSteps(t *testing.T) {
	tests := []struct {
		name          string
		expr          string
		wantCanonical string
	}{
		{name: "reference path", expr: "interaction.leadData.phones.index=1[phone]", wantCanonical: "interaction.leadData.phones.index=1.phone"},
		{name: "bracketed dots get quoted", expr: "custom[x.y]", wantCanonical: "custom.'x.y'"},
		{name: "quoted digits stay quoted", expr: `a["0"][0]`, wantCanonical: "a.'0'.0"},
		{name: "selector value with dots gets quoted", expr: "a[n=1.5]", wantCanonical: "a.n='1.5'"},
		{name: "quotes and backslashes are escaped", expr: `a["it's \\ ok"]`, wantCanonical: `a.'it\'s \\ ok'`},
		{name: "empty key", expr: `a[""]`, wantCanonical: "a.''"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			c := p.canonical()
			if c != tt.wantCanonical {
				t.Errorf("canonical(%q) = %q, want %q", tt.expr, c, tt.wantCanonical)
			}
			q, err := Parse(c)
			if err != nil {
				t.Fatalf("Parse(canonical %q): %v", c, err)
			}
			if !reflect.DeepEqual(stripSources(p.steps), stripSources(q.steps)) {
				t.Errorf("canonical %q parses to %+v, want %+v", c, q.steps, p.steps)
			}
		})
	}
}
