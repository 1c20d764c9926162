package config

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestReadJSONReportsMalformedJSONWithLineAndColumn(t *testing.T) {
	tests := []struct {
		name string
		json string
		want string
	}{
		{
			name: "empty file",
			json: "  \n",
			want: `(top level): invalid JSON at line 2, column 1: the file is empty (write a JSON object such as {"screenPop": {...}})`,
		},
		{
			name: "missing comma between members names the object",
			json: "{\n  \"config\": {\n    \"options\": {}\n    \"entities\": {}\n  }\n}",
			want: `config: invalid JSON at line 4, column 5: expected ',' or '}' after the value of "options", got '"' (add a comma between members, or close the object with })`,
		},
		{
			name: "unquoted key",
			json: `{"screenPop": {default: {}}}`,
			want: `screenPop: invalid JSON at line 1, column 16: expected a quoted key or '}', got 'd' (put the key in double quotes)`,
		},
		{
			name: "single-quoted string",
			json: `{"scripts": [{"src": 'x'}]}`,
			want: `scripts[0].src: invalid JSON at line 1, column 22: expected a value, got '\'' (JSON strings use double quotes)`,
		},
		{
			name: "comment",
			json: "{\n  // the options\n  \"config\": {}\n}",
			want: `(top level): invalid JSON at line 2, column 3: expected a quoted key or '}', got '/' (JSON has no comments: remove it)`,
		},
		{
			name: "cut short",
			json: `{"screenPop": {"rules": [`,
			want: `screenPop.rules[0]: invalid JSON at line 1, column 26: unexpected end of file, expected a value (the JSON is cut short: close every { and [)`,
		},
		{
			name: "missing colon",
			json: `{"config" {}}`,
			want: `config: invalid JSON at line 1, column 11: expected ':' after the key, got '{' (write "key": value)`,
		},
		{
			name: "missing comma between items",
			json: `{"scripts": [{} {}]}`,
			want: `scripts: invalid JSON at line 1, column 17: expected ',' or ']' after item 0, got '{' (add a comma between items, or close the list with ])`,
		},
		{
			name: "two commas in a row",
			json: `{"scripts": [{},,{}]}`,
			want: `scripts[1]: invalid JSON at line 1, column 17: expected a value, got ',' (remove the extra comma)`,
		},
		{
			name: "unclosed string at the end of a line",
			json: "{\"config\": \"abc\n}",
			want: `config: invalid JSON at line 1, column 16: the string is not closed before the end of the line (close the string with ", or write \n for a line break inside it)`,
		},
		{
			name: "bad escape",
			json: `{"a": "C:\data"}`,
			want: `a: invalid JSON at line 1, column 10: invalid escape \d (write \\ for a backslash; JSON escapes are \" \\ \/ \b \f \n \r \t \uXXXX)`,
		},
		{
			name: "short unicode escape",
			json: `{"a": "\u12"}`,
			want: `a: invalid JSON at line 1, column 8: invalid escape \u12 (\u takes four hex digits, e.g. \u00e9)`,
		},
		{
			name: "malformed number",
			json: `{"a": 01}`,
			want: `a: invalid JSON at line 1, column 8: malformed number "01" (numbers are written like 12, -3.5 or 1e3; put other text in double quotes)`,
		},
		{
			name: "bare word",
			json: `{"a": yes}`,
			want: `a: invalid JSON at line 1, column 7: expected a value, got 'y' (a value is a "string", a number, true, false, null, {...} or [...])`,
		},
		{
			name: "two blocks pasted one after the other",
			json: "{\"scripts\": []}\n{\"config\": {}}",
			want: `(top level): invalid JSON at line 2, column 1: unexpected '{' after the end of the JSON value (a config file is one JSON object: remove what follows its closing }, or merge the blocks into one object)`,
		},
		{
			name: "column counts characters, not bytes",
			json: `{"é": "ü", "x" 1}`,
			want: `x: invalid JSON at line 1, column 16: expected ':' after the key, got '1' (write "key": value)`,
		},
		{
			name: "invalid UTF-8",
			json: "{\"a\": \"\xff\"}",
			want: `a: invalid JSON at line 1, column 8: invalid UTF-8 byte 0xff inside a string (save the file as UTF-8)`,
		},
		{
			name: "control character",
			json: "{\"a\": \"\t\"}",
			want: `a: invalid JSON at line 1, column 8: control character 0x09 inside a string (escape it, e.g. \t for a tab)`,
		},
		{
			name: "runaway nesting",
			json: strings.Repeat("[", maxDepth+1),
			want: strings.Repeat("[0]", maxDepth) + ": invalid JSON at line 1, column 257: values nest more than 256 levels deep (a config nests a few levels; check for a runaway [ or {)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.json))
			if cfg != nil {
				t.Fatalf("Parse returned a config for malformed JSON")
			}
			if err == nil || err.Error() != tt.want {
				t.Errorf("error:\n got %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestReadJSONAcceptsTrailingCommasWithAWarning(t *testing.T) {
	tests := []struct {
		name string
		json string
		want []string
	}{
		{
			name: "after the last member, as in the reference scripts block",
			json: "{\n  \"scripts\": [],\n}",
			want: []string{`(top level): trailing comma at line 2, column 16 is not valid JSON (accepted, as the ipSCAPE reference writes one) (remove the comma before '}')`},
		},
		{
			name: "after the last item of a nested list",
			json: `{"screenPop": {"rules": [{}, ], "default": {}}}`,
			want: []string{`screenPop.rules: trailing comma at line 1, column 28 is not valid JSON (accepted, as the ipSCAPE reference writes one) (remove the comma before ']')`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, warnings, syntax := readJSON([]byte(tt.json))
			if syntax != nil || root == nil {
				t.Fatalf("readJSON failed: %+v", syntax)
			}
			if got := problemStrings(warnings); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("warnings:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestReadJSONDecodesValuesLikeEncodingJSON(t *testing.T) {
	tests := []struct {
		name string
		json string
	}{
		{name: "escapes", json: `{"a": "tab\t quote\" slash\/ back\\ \u00e9 \ud83d\ude00 \b\f\n\r"}`},
		{name: "lone surrogate becomes U+FFFD", json: `["\ud83d x", "\ude00"]`},
		{name: "numbers kept as written", json: `[0, -1, 1.50, 2e10, -3E-2, 4.0e+1]`},
		{name: "literals and nesting", json: `{"t": true, "f": false, "n": null, "o": {"l": [[], {}]}}`},
		{name: "byte-order mark", json: "\xEF\xBB\xBF{\"a\": 1}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, _, syntax := readJSON([]byte(tt.json))
			if syntax != nil {
				t.Fatalf("readJSON: %+v", syntax)
			}
			want := decodeStd(t, bytes.TrimPrefix([]byte(tt.json), []byte("\xEF\xBB\xBF")))
			if got := nodeValue(root); !reflect.DeepEqual(got, want) {
				t.Errorf("value:\n got %#v\nwant %#v", got, want)
			}
		})
	}
}

// FuzzReadJSON checks the reader against encoding/json: on valid UTF-8
// within the nesting limit, both accept the same documents (apart from
// trailing commas, which only ours accepts, with a warning) and decode them
// to the same values.
func FuzzReadJSON(f *testing.F) {
	seeds, _ := filepath.Glob("../../testdata/reference/*.json")
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"a": [1, "x\u00e9", true, null, {"b": -0.5e3}],}`))
	f.Add([]byte(`["\ud800\udc00", "\ud800"]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		root, warnings, syntax := readJSON(data)
		if !utf8.Valid(data) || bytes.HasPrefix(data, []byte("\xEF\xBB\xBF")) || bytes.Count(data, []byte("["))+bytes.Count(data, []byte("{")) > maxDepth {
			return
		}
		stdValid := json.Valid(data)
		switch {
		case syntax == nil && len(warnings) == 0 && !stdValid:
			t.Fatalf("readJSON accepts what encoding/json rejects: %q", data)
		case syntax != nil && stdValid:
			t.Fatalf("readJSON rejects valid JSON %q: %+v", data, syntax)
		case syntax == nil && stdValid && !hasDuplicateKeys(root):
			if got, want := nodeValue(root), decodeStd(t, data); !reflect.DeepEqual(got, want) {
				t.Fatalf("value of %q:\n got %#v\nwant %#v", data, got, want)
			}
		}
	})
}

func decodeStd(t *testing.T, data []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	return v
}

// nodeValue converts a tree to what encoding/json decodes with UseNumber.
func nodeValue(n *node) any {
	switch n.kind {
	case kindNull:
		return nil
	case kindBool:
		return n.boolean
	case kindNumber:
		return json.Number(n.text)
	case kindString:
		return n.text
	case kindArray:
		items := make([]any, len(n.items))
		for i, item := range n.items {
			items[i] = nodeValue(item)
		}
		return items
	default:
		obj := make(map[string]any, len(n.members))
		for _, m := range n.members {
			obj[m.key] = nodeValue(m.value)
		}
		return obj
	}
}

func hasDuplicateKeys(n *node) bool {
	seen := map[string]bool{}
	for _, m := range n.members {
		if seen[m.key] || hasDuplicateKeys(m.value) {
			return true
		}
		seen[m.key] = true
	}
	for _, item := range n.items {
		if hasDuplicateKeys(item) {
			return true
		}
	}
	return false
}

func problemStrings(ps []Problem) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}
