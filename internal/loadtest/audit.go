package loadtest

import (
	"fmt"
	"sort"
	"strings"
)

// ExpectedActivity is what one placed call must leave in the CRM: one
// phone call activity with these values.
type ExpectedActivity struct {
	InteractionID string
	// RegardingID is the contact the widget's pop matched.
	RegardingID string
	WrapCode    string
	// StateCode and StatusCode are the final state: 1/4 (completed,
	// received) for an inbound call with completeActivityRecordOnWrap, 0/1
	// (open) without.
	StateCode  int
	StatusCode int
}

// Activity is one phone call read back from the CRM.
type Activity struct {
	ID            string
	InteractionID string
	RegardingID   string
	WrapCode      string
	StateCode     int
	StatusCode    int
}

// Audit is the count of activities against calls placed.
type Audit struct {
	Calls      int `json:"calls"`
	Activities int `json:"activities"`
	// Correct calls have exactly one activity and it is in the expected
	// final state, with the wrap code and the matched contact as regarding.
	Correct int `json:"correct"`
	// Lost calls have no activity.
	Lost int `json:"lost"`
	// Duplicated calls have more than one activity; Extra counts the
	// activities beyond the first.
	Duplicated int `json:"duplicated"`
	Extra      int `json:"extraActivities"`
	// Calls with exactly one activity that is wrong, by what is wrong (a
	// call may be counted under several).
	WrongState     int `json:"wrongState"`
	WrongWrapCode  int `json:"wrongWrapCode"`
	WrongRegarding int `json:"wrongRegarding"`
	// Unexpected are activities created during the run that no call placed
	// accounts for: another interaction id, or none at all.
	Unexpected int `json:"unexpected"`
	// Examples describe up to maxExamples problems, for the report.
	Examples []string `json:"examples,omitempty"`
}

const maxExamples = 10

// OK reports whether every call has exactly one activity in the right state.
func (a Audit) OK() bool { return a.Calls > 0 && a.Correct == a.Calls && a.Unexpected == 0 }

// AuditActivities compares the activities found with the calls placed.
func AuditActivities(expected []ExpectedActivity, found []Activity) Audit {
	a := Audit{Calls: len(expected), Activities: len(found)}
	byCall := make(map[string][]Activity, len(found))
	for _, act := range found {
		byCall[act.InteractionID] = append(byCall[act.InteractionID], act)
	}
	example := func(format string, args ...any) {
		if len(a.Examples) < maxExamples {
			a.Examples = append(a.Examples, fmt.Sprintf(format, args...))
		}
	}
	placed := make(map[string]bool, len(expected))
	for _, want := range expected {
		placed[want.InteractionID] = true
		acts := byCall[want.InteractionID]
		switch {
		case len(acts) == 0:
			a.Lost++
			example("%s: no activity", want.InteractionID)
			continue
		case len(acts) > 1:
			a.Duplicated++
			a.Extra += len(acts) - 1
			ids := make([]string, len(acts))
			for i, act := range acts {
				ids[i] = act.ID
			}
			example("%s: %d activities (%s)", want.InteractionID, len(acts), strings.Join(ids, ", "))
			continue
		}
		got := acts[0]
		ok := true
		if got.StateCode != want.StateCode || got.StatusCode != want.StatusCode {
			a.WrongState++
			ok = false
			example("%s: activity %s is statecode %d statuscode %d, want %d %d", want.InteractionID, got.ID, got.StateCode, got.StatusCode, want.StateCode, want.StatusCode)
		}
		if got.WrapCode != want.WrapCode {
			a.WrongWrapCode++
			ok = false
			example("%s: activity %s has wrap code %q, want %q", want.InteractionID, got.ID, got.WrapCode, want.WrapCode)
		}
		if !strings.EqualFold(got.RegardingID, want.RegardingID) {
			a.WrongRegarding++
			ok = false
			example("%s: activity %s is regarding %q, want the matched contact %s", want.InteractionID, got.ID, got.RegardingID, want.RegardingID)
		}
		if ok {
			a.Correct++
		}
	}
	var unexpected []string
	for id, acts := range byCall {
		if !placed[id] {
			a.Unexpected += len(acts)
			unexpected = append(unexpected, id)
		}
	}
	sort.Strings(unexpected)
	for _, id := range unexpected {
		if id == "" {
			example("%d activities tied to no call (no interaction id, nor one in the wrap notes): duplicates the wrap never reached?", len(byCall[id]))
			continue
		}
		example("%q: %d activities of no call placed", id, len(byCall[id]))
	}
	return a
}
