package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics and keeps its promises on any
// input: a config it returns is fully compiled and consistent; an error it
// returns is an *Error whose every problem has a path and a message, one per
// line; and the result is the same every time.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"../../testdata/reference/*.json", "../../testdata/*.json", "testdata/*.json"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	for _, seed := range []string{
		rules(`{"callType": ["inbound", "inbound"], "entity": "Contact", "query": "?$search={{x}}", "map": [{"name": "x", "map": "a.b"}]}`),
		options(`{"phoneRegion": "au", "fields": {"agentInteractionId": "X"}}`),
		entities(`{"a": {"plural": "as", "key": "aid", "query": "x, y,", "type": "entity"}}`),
		`{"entities": {}, "config": {"entities": {"a": 1}, "options": {"entities": []}}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data)
		again, errAgain := Parse(data)
		if (err == nil) != (errAgain == nil) {
			t.Fatalf("Parse is not deterministic: %v, then %v", err, errAgain)
		}
		if err != nil {
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("error is %T, want *Error", err)
			}
			if cfg != nil {
				t.Fatal("a config returned with errors")
			}
			if len(perr.Problems) == 0 {
				t.Fatal("an *Error with no problems")
			}
			checkProblems(t, perr.Problems)
			checkProblems(t, perr.Warnings)
			if n := strings.Count(err.Error(), "\n") + 1; n != len(perr.Problems) {
				t.Fatalf("Error() has %d lines for %d problems", n, len(perr.Problems))
			}
			if errAgain.Error() != err.Error() {
				t.Fatalf("Parse is not deterministic:\n%v\nthen\n%v", err, errAgain)
			}
			return
		}
		if cfg == nil {
			t.Fatal("neither a config nor an error")
		}
		checkProblems(t, cfg.Warnings)
		if !reflect.DeepEqual(problemStrings(cfg.Warnings), problemStrings(again.Warnings)) {
			t.Fatal("warnings differ between two parses of the same input")
		}
		checkConfig(t, cfg)
	})
}

func checkProblems(t *testing.T, problems []Problem) {
	t.Helper()
	for _, p := range problems {
		if p.Path == "" || p.Message == "" {
			t.Fatalf("problem without path or message: %+v", p)
		}
		if strings.ContainsAny(p.String(), "\r\n") {
			t.Fatalf("problem spans lines: %q", p.String())
		}
	}
}

// checkConfig checks what the rest of ctibridge relies on in a loaded
// config.
func checkConfig(t *testing.T, cfg *Config) {
	t.Helper()
	if len(cfg.Entities) != len(cfg.EntityOrder) {
		t.Fatalf("%d entities, %d in order", len(cfg.Entities), len(cfg.EntityOrder))
	}
	for _, name := range cfg.EntityOrder {
		e := cfg.Entities[name]
		if e == nil || e.LogicalName != name || e.Plural == "" || e.Key == "" || len(e.Columns) == 0 {
			t.Fatalf("entity %q incomplete: %+v", name, e)
		}
		if e.Type != EntityPerson && e.Type != EntityOrganisation {
			t.Fatalf("entity %q has type %q", name, e.Type)
		}
	}
	all := cfg.ScreenPop.Rules
	if cfg.ScreenPop.Default != nil {
		all = append([]*Rule{cfg.ScreenPop.Default}, all...)
	} else if len(cfg.ScreenPop.Rules) > 0 {
		t.Fatal("rules without a default")
	}
	for _, r := range all {
		if r.Template == nil || r.Entity == "" || r.JSONPath == "" {
			t.Fatalf("rule %s incomplete: %+v", r.JSONPath, r)
		}
		if len(cfg.Entities) > 0 && cfg.Entities[r.Entity] == nil {
			t.Fatalf("rule %s searches %q, which entities does not list", r.JSONPath, r.Entity)
		}
		if r != cfg.ScreenPop.Default && len(r.CallTypes) == 0 {
			t.Fatalf("rule %s has no call type", r.JSONPath)
		}
		names := make([]string, len(r.Map))
		for i, m := range r.Map {
			if m.Path == nil || m.Name == "" || (m.Type != MapTypeString && m.Type != MapTypePhone) {
				t.Fatalf("rule %s map[%d] incomplete: %+v", r.JSONPath, i, m)
			}
			names[i] = m.Name
		}
		for _, name := range r.Template.Names() {
			if !slices.Contains(names, name) {
				t.Fatalf("rule %s: placeholder {{%s}} has no map entry", r.JSONPath, name)
			}
		}
	}
}
