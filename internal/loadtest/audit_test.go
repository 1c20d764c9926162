package loadtest

import (
	"reflect"
	"strings"
	"testing"
)

func want(id string) ExpectedActivity {
	return ExpectedActivity{InteractionID: id, RegardingID: "c-" + id, WrapCode: "1", StateCode: 1, StatusCode: 4}
}

func done(activityID, id string) Activity {
	return Activity{ID: activityID, InteractionID: id, RegardingID: "C-" + strings.ToUpper(id), WrapCode: "1", StateCode: 1, StatusCode: 4}
}

func TestAuditActivities(t *testing.T) {
	tests := []struct {
		name     string
		expected []ExpectedActivity
		found    []Activity
		want     Audit
		ok       bool
		examples []string // substrings, one per example expected
	}{
		{
			name:     "every call has its one activity",
			expected: []ExpectedActivity{want("a"), want("b")},
			found:    []Activity{done("1", "a"), done("2", "b")},
			want:     Audit{Calls: 2, Activities: 2, Correct: 2},
			ok:       true,
		},
		{
			name:     "a call without an activity is lost",
			expected: []ExpectedActivity{want("a"), want("b")},
			found:    []Activity{done("1", "a")},
			want:     Audit{Calls: 2, Activities: 1, Correct: 1, Lost: 1},
			examples: []string{"b: no activity"},
		},
		{
			name:     "a call with three activities is one duplicated call and two extra",
			expected: []ExpectedActivity{want("a")},
			found:    []Activity{done("1", "a"), done("2", "a"), done("3", "a")},
			want:     Audit{Calls: 1, Activities: 3, Duplicated: 1, Extra: 2},
			examples: []string{"a: 3 activities (1, 2, 3)"},
		},
		{
			name:     "an open activity is in the wrong state",
			expected: []ExpectedActivity{want("a")},
			found:    []Activity{func() Activity { a := done("1", "a"); a.StateCode, a.StatusCode = 0, 1; return a }()},
			want:     Audit{Calls: 1, Activities: 1, WrongState: 1},
			examples: []string{"statecode 0 statuscode 1, want 1 4"},
		},
		{
			name:     "one activity wrong in every way is counted under each",
			expected: []ExpectedActivity{want("a")},
			found:    []Activity{{ID: "1", InteractionID: "a", WrapCode: "", StateCode: 0, StatusCode: 1}},
			want:     Audit{Calls: 1, Activities: 1, WrongState: 1, WrongWrapCode: 1, WrongRegarding: 1},
			examples: []string{"statecode", "wrap code", "regarding"},
		},
		{
			name:     "an activity no call placed is unexpected",
			expected: []ExpectedActivity{want("a")},
			found:    []Activity{done("1", "a"), done("2", "zz")},
			want:     Audit{Calls: 1, Activities: 2, Correct: 1, Unexpected: 1},
			examples: []string{`"zz": 1 activities of no call placed`},
		},
		{
			name:     "an activity whose interaction id could not be read is unexpected, and its call lost",
			expected: []ExpectedActivity{want("a")},
			found:    []Activity{done("1", "")},
			want:     Audit{Calls: 1, Activities: 1, Lost: 1, Unexpected: 1},
			examples: []string{"a: no activity", "1 activities tied to no call"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AuditActivities(tt.expected, tt.found)
			examples := got.Examples
			got.Examples = nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("audit = %+v\nwant    %+v", got, tt.want)
			}
			if len(examples) != len(tt.examples) {
				t.Fatalf("examples %q, want %d", examples, len(tt.examples))
			}
			for i, sub := range tt.examples {
				if !strings.Contains(examples[i], sub) {
					t.Errorf("example %d = %q, want it to mention %q", i, examples[i], sub)
				}
			}
			if got.OK() != tt.ok {
				t.Errorf("OK() = %v, want %v", got.OK(), tt.ok)
			}
		})
	}
}

func TestAuditExamplesAreBounded(t *testing.T) {
	var expected []ExpectedActivity
	for i := range 50 {
		expected = append(expected, want(string(rune('a'+i%26))+strings.Repeat("x", i)))
	}
	a := AuditActivities(expected, nil)
	if a.Lost != 50 || len(a.Examples) != maxExamples {
		t.Errorf("lost %d with %d examples, want 50 lost and %d examples", a.Lost, len(a.Examples), maxExamples)
	}
}
