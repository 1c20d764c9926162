package interaction

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

// at is 2025-03-04 09:00 UTC plus s seconds.
func at(s int) time.Time {
	return time.Date(2025, 3, 4, 9, 0, s, 0, time.UTC)
}

// event builds an event of interaction AI-1, agent 1042.
func event(id string, typ EventType, ct CallType, when time.Time) *Event {
	return &Event{ID: id, Type: typ, Time: when, AgentID: "1042",
		Interaction: Interaction{AgentInteractionID: "AI-1", CallType: ct}}
}

func wrapEvent(id string, ct CallType, when time.Time, code, desc string) *Event {
	ev := event(id, CallWrapped, ct, when)
	ev.Interaction.Activity.WrapCode = code
	ev.Interaction.Activity.WrapDescription = desc
	return ev
}

// step is one Apply and the transition it must report.
type step struct {
	ev   *Event
	want Transition
}

func tr(ev *Event, from, to State, implied ...State) Transition {
	return Transition{Event: ev.Type, EventID: ev.ID, From: from, To: to, Implied: implied}
}

func stale(ev *Event, s State) Transition {
	return Transition{Event: ev.Type, EventID: ev.ID, From: s, To: s, Stale: true}
}

func dup(ev *Event, s State) Transition {
	return Transition{Event: ev.Type, EventID: ev.ID, From: s, To: s, Duplicate: true}
}

func TestCallLifecycle(t *testing.T) {
	alert := event("e1", CallAlerting, CallInbound, at(0))
	start := event("e2", CallStarted, CallInbound, at(5))
	hangup := event("e3", CallHangup, CallInbound, at(125))
	wrap := wrapEvent("e4", CallInbound, at(160), "3", "Sale")
	startAgain := event("e2b", CallStarted, CallInbound, at(6))
	wrapOther := wrapEvent("e5", CallInbound, at(170), "9", "Wrong code")

	pAlloc := event("p1", PreviewAllocated, CallPreview, at(0))
	pAlert := event("p2", CallAlerting, CallPreview, at(30))
	pStartOutbound := event("p3", CallStarted, CallOutbound, at(40))
	pHangup := event("p4", CallHangup, CallPreview, at(100))
	pWrap := wrapEvent("p5", CallOutbound, at(110), "7", "Callback")

	oAlert := event("o1", CallAlerting, CallOutbound, at(0))
	oFail := event("o2", CallFailed, CallOutbound, at(30))
	oWrap := wrapEvent("o3", CallOutbound, at(45), "21", "No answer")
	oHangup := event("o4", CallHangup, CallOutbound, at(31))
	oStartLate := event("o5", CallStarted, CallOutbound, at(20))

	tests := []struct {
		name      string
		steps     []step
		wantState State
		wantPath  []State
		check     func(t *testing.T, c *Call)
	}{
		{
			name: "inbound in order",
			steps: []step{
				{alert, tr(alert, Idle, Alerting)},
				{start, tr(start, Alerting, Connected)},
				{hangup, tr(hangup, Connected, Ended)},
				{wrap, tr(wrap, Ended, Wrapped)},
			},
			wantState: Wrapped,
			wantPath:  []State{Alerting, Connected, Ended, Wrapped},
			check: func(t *testing.T, c *Call) {
				wantTimes(t, c, map[string]time.Time{"alerting": at(0), "connected": at(5), "ended": at(125), "wrapped": at(160)})
				if c.WrapCode != "3" || c.WrapDescription != "Sale" {
					t.Errorf("wrap = %q %q, want 3 Sale", c.WrapCode, c.WrapDescription)
				}
			},
		},
		{
			name: "every event delivered twice",
			steps: []step{
				{alert, tr(alert, Idle, Alerting)},
				{alert, dup(alert, Alerting)},
				{start, tr(start, Alerting, Connected)},
				{alert, dup(alert, Connected)},
				{start, dup(start, Connected)},
				{hangup, tr(hangup, Connected, Ended)},
				{hangup, dup(hangup, Ended)},
				{wrap, tr(wrap, Ended, Wrapped)},
				{wrap, dup(wrap, Wrapped)},
			},
			wantState: Wrapped,
			wantPath:  []State{Alerting, Connected, Ended, Wrapped},
		},
		{
			name: "a second callStarted under a new id is stale and keeps the first connect time",
			steps: []step{
				{start, tr(start, Idle, Connected, Alerting)},
				{startAgain, stale(startAgain, Connected)},
			},
			wantState: Connected,
			wantPath:  []State{Alerting, Connected},
			check: func(t *testing.T, c *Call) {
				wantTimes(t, c, map[string]time.Time{"connected": at(5)})
			},
		},
		{
			name: "hangup before started implies connected; the late start supplies the connect time",
			steps: []step{
				{alert, tr(alert, Idle, Alerting)},
				{hangup, tr(hangup, Alerting, Ended, Connected)},
				{start, stale(start, Ended)},
				{wrap, tr(wrap, Ended, Wrapped)},
			},
			wantState: Wrapped,
			wantPath:  []State{Alerting, Connected, Ended, Wrapped},
			check: func(t *testing.T, c *Call) {
				wantTimes(t, c, map[string]time.Time{"alerting": at(0), "connected": at(5), "ended": at(125), "wrapped": at(160)})
			},
		},
		{
			name: "wrap before hangup implies connected and ended; the late hangup only dates the end",
			steps: []step{
				{alert, tr(alert, Idle, Alerting)},
				{wrap, tr(wrap, Alerting, Wrapped, Connected, Ended)},
				{hangup, stale(hangup, Wrapped)},
				{start, stale(start, Wrapped)},
			},
			wantState: Wrapped,
			wantPath:  []State{Alerting, Connected, Ended, Wrapped},
			check: func(t *testing.T, c *Call) {
				wantTimes(t, c, map[string]time.Time{"alerting": at(0), "connected": at(5), "ended": at(125), "wrapped": at(160)})
			},
		},
		{
			name: "a wrap as the only event implies the whole call",
			steps: []step{
				{wrap, tr(wrap, Idle, Wrapped, Alerting, Connected, Ended)},
			},
			wantState: Wrapped,
			wantPath:  []State{Alerting, Connected, Ended, Wrapped},
		},
		{
			name: "the first wrap wins over a later one with another code",
			steps: []step{
				{start, tr(start, Idle, Connected, Alerting)},
				{wrap, tr(wrap, Connected, Wrapped, Ended)},
				{wrapOther, stale(wrapOther, Wrapped)},
			},
			wantState: Wrapped,
			wantPath:  []State{Alerting, Connected, Ended, Wrapped},
			check: func(t *testing.T, c *Call) {
				if c.WrapCode != "3" || c.WrapDescription != "Sale" || c.Interaction.Activity.WrapCode != "3" {
					t.Errorf("wrap = %q %q (activity %q), want the first wrap 3 Sale", c.WrapCode, c.WrapDescription, c.Interaction.Activity.WrapCode)
				}
				wantTimes(t, c, map[string]time.Time{"connected": at(5), "wrapped": at(160)})
			},
		},
		{
			name: "a later wrap fills in a description the first lacked",
			steps: []step{
				{wrapEvent("w1", CallInbound, at(160), "3", ""), tr(wrapEvent("w1", CallInbound, at(160), "3", ""), Idle, Wrapped, Alerting, Connected, Ended)},
				{wrapEvent("w2", CallInbound, at(161), "4", "Sale"), stale(wrapEvent("w2", CallInbound, at(161), "4", "Sale"), Wrapped)},
			},
			wantState: Wrapped,
			wantPath:  []State{Alerting, Connected, Ended, Wrapped},
			check: func(t *testing.T, c *Call) {
				if c.WrapCode != "3" || c.WrapDescription != "Sale" {
					t.Errorf("wrap = %q %q, want 3 Sale", c.WrapCode, c.WrapDescription)
				}
			},
		},
		{
			name: "preview call keeps its type when reported as outbound once dialled",
			steps: []step{
				{pAlloc, tr(pAlloc, Idle, Previewing)},
				{pAlert, tr(pAlert, Previewing, Alerting)},
				{pStartOutbound, tr(pStartOutbound, Alerting, Connected)},
				{pHangup, tr(pHangup, Connected, Ended)},
				{pWrap, tr(pWrap, Ended, Wrapped)},
			},
			wantState: Wrapped,
			wantPath:  []State{Previewing, Alerting, Connected, Ended, Wrapped},
			check: func(t *testing.T, c *Call) {
				if c.CallType != CallPreview || c.Interaction.CallType != CallPreview {
					t.Errorf("call type %q (interaction %q), want preview", c.CallType, c.Interaction.CallType)
				}
				wantTimes(t, c, map[string]time.Time{"previewed": at(0), "alerting": at(30), "connected": at(40), "ended": at(100), "wrapped": at(110)})
			},
		},
		{
			name: "a preview call first seen connected implies the preview",
			steps: []step{
				{event("p3", CallStarted, CallPreview, at(40)), tr(event("p3", CallStarted, CallPreview, at(40)), Idle, Connected, Previewing, Alerting)},
				{pAlloc, stale(pAlloc, Connected)},
			},
			wantState: Connected,
			wantPath:  []State{Previewing, Alerting, Connected},
			check: func(t *testing.T, c *Call) {
				wantTimes(t, c, map[string]time.Time{"previewed": at(0), "connected": at(40)})
			},
		},
		{
			name: "a late preview allocation turns an outbound call into a preview without moving it",
			steps: []step{
				{oAlert, tr(oAlert, Idle, Alerting)},
				{pAlloc, stale(pAlloc, Alerting)},
			},
			wantState: Alerting,
			wantPath:  []State{Alerting},
			check: func(t *testing.T, c *Call) {
				if c.CallType != CallPreview {
					t.Errorf("call type %q, want preview", c.CallType)
				}
			},
		},
		{
			name: "unanswered outbound call fails and is wrapped",
			steps: []step{
				{oAlert, tr(oAlert, Idle, Alerting)},
				{oFail, tr(oFail, Alerting, Failed)},
				{oWrap, tr(oWrap, Failed, Wrapped)},
			},
			wantState: Wrapped,
			wantPath:  []State{Alerting, Failed, Wrapped},
			check: func(t *testing.T, c *Call) {
				if c.Reached(Connected) {
					t.Error("a failed call must not have reached Connected")
				}
				wantTimes(t, c, map[string]time.Time{"alerting": at(0), "failed": at(30), "wrapped": at(45)})
			},
		},
		{
			name: "a failure as the first event implies alerting only",
			steps: []step{
				{oFail, tr(oFail, Idle, Failed, Alerting)},
			},
			wantState: Failed,
			wantPath:  []State{Alerting, Failed},
		},
		{
			name: "hangup and a late start after a failure are stale",
			steps: []step{
				{oFail, tr(oFail, Idle, Failed, Alerting)},
				{oHangup, stale(oHangup, Failed)},
				{oStartLate, stale(oStartLate, Failed)},
				{oWrap, tr(oWrap, Failed, Wrapped)},
			},
			wantState: Wrapped,
			wantPath:  []State{Alerting, Failed, Wrapped},
		},
		{
			name: "callFailed on a connected call ends it",
			steps: []step{
				{event("c1", CallStarted, CallOutbound, at(5)), tr(event("c1", CallStarted, CallOutbound, at(5)), Idle, Connected, Alerting)},
				{oFail, Transition{Event: CallFailed, EventID: "o2", From: Connected, To: Ended}},
			},
			wantState: Ended,
			wantPath:  []State{Alerting, Connected, Ended},
			check: func(t *testing.T, c *Call) {
				wantTimes(t, c, map[string]time.Time{"connected": at(5), "ended": at(30)})
			},
		},
		{
			name: "callFailed after the hangup is stale",
			steps: []step{
				{hangup, tr(hangup, Idle, Ended, Alerting, Connected)},
				{event("f1", CallFailed, CallInbound, at(126)), stale(event("f1", CallFailed, CallInbound, at(126)), Ended)},
			},
			wantState: Ended,
			wantPath:  []State{Alerting, Connected, Ended},
			check: func(t *testing.T, c *Call) {
				wantTimes(t, c, map[string]time.Time{"ended": at(125)})
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Call
			for i, s := range tt.steps {
				got, err := c.Apply(s.ev)
				if err != nil {
					t.Fatalf("step %d (%s %s): %v", i, s.ev.Type, s.ev.ID, err)
				}
				if !reflect.DeepEqual(got, s.want) {
					t.Fatalf("step %d (%s %s): transition\n got %+v\nwant %+v", i, s.ev.Type, s.ev.ID, got, s.want)
				}
			}
			if c.State != tt.wantState {
				t.Errorf("state %q, want %q", c.State, tt.wantState)
			}
			if !reflect.DeepEqual(c.Path, tt.wantPath) {
				t.Errorf("path %v, want %v", c.Path, tt.wantPath)
			}
			if tt.check != nil {
				tt.check(t, &c)
			}
		})
	}
}

func wantTimes(t *testing.T, c *Call, want map[string]time.Time) {
	t.Helper()
	got := map[string]time.Time{
		"previewed": c.PreviewedAt, "alerting": c.AlertingAt, "connected": c.ConnectedAt,
		"ended": c.EndedAt, "failed": c.FailedAt, "wrapped": c.WrappedAt,
	}
	for name, g := range got {
		if w := want[name]; !g.Equal(w) {
			t.Errorf("%s at %v, want %v", name, g, w)
		}
	}
}

// TestEveryStateEnteredOnce applies every order of a call's events, each
// delivered twice, and checks the transitions' Entered lists add up to the
// call's path with no state twice: what lets the activity planner act once.
func TestEveryStateEnteredOnce(t *testing.T) {
	tests := []struct {
		name     string
		events   []*Event
		wantLast State
	}{
		{name: "inbound", events: []*Event{
			event("a", CallAlerting, CallInbound, at(0)), event("s", CallStarted, CallInbound, at(1)),
			event("h", CallHangup, CallInbound, at(2)), wrapEvent("w", CallInbound, at(3), "1", "x")}, wantLast: Wrapped},
		{name: "preview", events: []*Event{
			event("p", PreviewAllocated, CallPreview, at(0)), event("a", CallAlerting, CallPreview, at(1)),
			event("s", CallStarted, CallOutbound, at(2)), event("h", CallHangup, CallPreview, at(3)),
			wrapEvent("w", CallPreview, at(4), "1", "x")}, wantLast: Wrapped},
		{name: "failed outbound", events: []*Event{
			event("a", CallAlerting, CallOutbound, at(0)), event("f", CallFailed, CallOutbound, at(1)),
			wrapEvent("w", CallOutbound, at(2), "1", "x")}, wantLast: Wrapped},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, order := range permutations(len(tt.events)) {
				var c Call
				var entered []State
				for _, i := range order {
					for range 2 {
						tr, err := c.Apply(tt.events[i])
						if err != nil {
							t.Fatalf("order %v: %v", order, err)
						}
						entered = append(entered, tr.Entered()...)
					}
				}
				if !reflect.DeepEqual(entered, c.Path) {
					t.Fatalf("order %v: entered %v, path %v", order, entered, c.Path)
				}
				seen := map[State]bool{}
				for _, s := range entered {
					if seen[s] {
						t.Fatalf("order %v: %s entered twice in %v", order, s, entered)
					}
					seen[s] = true
				}
				if c.State != tt.wantLast {
					t.Fatalf("order %v: final state %s, want %s", order, c.State, tt.wantLast)
				}
			}
		})
	}
}

func permutations(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := append(append(append([]int{}, p[:i]...), n-1), p[i:]...)
			out = append(out, q)
		}
	}
	return out
}

func TestCallApplyRejects(t *testing.T) {
	otherInteraction := event("x1", CallStarted, CallInbound, at(1))
	otherInteraction.Interaction.AgentInteractionID = "AI-2"
	otherAgent := event("x2", CallStarted, CallInbound, at(1))
	otherAgent.AgentID = "2001"
	noInteraction := event("x3", CallStarted, CallInbound, at(1))
	noInteraction.Interaction.AgentInteractionID = ""

	tests := []struct {
		name     string
		ev       *Event
		wantPath string
		wantMsg  string
	}{
		{name: "nil event", ev: nil, wantMsg: "no event to apply"},
		{name: "event of another interaction", ev: otherInteraction, wantPath: "interaction.agentInteractionId",
			wantMsg: `"AI-2" is another interaction than this call's "AI-1"`},
		{name: "event of another agent", ev: otherAgent, wantPath: "agentId",
			wantMsg: `"2001" differs from "1042", the agent of interaction "AI-1"`},
		{name: "inbound call reported as outbound", ev: event("x4", CallStarted, CallOutbound, at(1)), wantPath: "interaction.callType",
			wantMsg: `"outbound" differs from "inbound", the call type of interaction "AI-1"`},
		{name: "unknown call type", ev: event("x5", CallStarted, "fax", at(1)), wantPath: "interaction.callType", wantMsg: `"fax" is not a call type`},
		{name: "unknown event type", ev: event("x6", "callParked", CallInbound, at(1)), wantPath: "type", wantMsg: `"callParked" is not an event type`},
		{name: "event without id", ev: event("", CallStarted, CallInbound, at(1)), wantPath: "id", wantMsg: "missing"},
		{name: "event without interaction id", ev: noInteraction, wantPath: "interaction.agentInteractionId", wantMsg: "missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Call
			if _, err := c.Apply(event("a1", CallAlerting, CallInbound, at(0))); err != nil {
				t.Fatal(err)
			}
			before := cloneCall(t, &c)
			_, err := c.Apply(tt.ev)
			var ee *EventError
			if !errors.As(err, &ee) {
				t.Fatalf("error %v, want *EventError", err)
			}
			if ee.Path != tt.wantPath || !strings.Contains(ee.Msg, tt.wantMsg) {
				t.Errorf("error %q (path %q), want path %q and message containing %q", err, ee.Path, tt.wantPath, tt.wantMsg)
			}
			if !reflect.DeepEqual(&c, before) {
				t.Errorf("a rejected event changed the call:\n got %+v\nwant %+v", c, *before)
			}
		})
	}
}

func cloneCall(t *testing.T, c *Call) *Call {
	t.Helper()
	data, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var out Call
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func TestCallMergesInteractionData(t *testing.T) {
	alert := event("e1", CallAlerting, CallOutbound, at(0))
	alert.Interaction.Activity = Activity{CustomerCLI: "+61299990000", CampaignName: "Renewals"}
	alert.Interaction.LeadData = &Lead{LeadID: "L1", Name: "Jane", PhoneIndex: 1,
		Phones: []LeadPhone{{Index: 1, Phone: "0299990000"}}}
	start := event("e2", CallStarted, CallOutbound, at(5))
	start.Interaction.Activity = Activity{ActivityID: "5512", CustomerCLI: "+61299990001"}
	lateAlert := event("e0", CallAlerting, CallOutbound, at(0))
	lateAlert.Interaction.Activity = Activity{CustomerCLI: "+61200000000", QueueName: "Sales"}
	lateAlert.Interaction.LeadData = &Lead{Name: "Someone else", Phones: []LeadPhone{{Index: 1, Phone: "1"}}}

	tests := []struct {
		name string
		get  func(c *Call) string
		want string
	}{
		{name: "forward event replaces a value", get: func(c *Call) string { return c.Interaction.Activity.CustomerCLI }, want: "+61299990001"},
		{name: "forward event adds a value", get: func(c *Call) string { return c.Interaction.Activity.ActivityID }, want: "5512"},
		{name: "absent value keeps the earlier one", get: func(c *Call) string { return c.Interaction.Activity.CampaignName }, want: "Renewals"},
		{name: "stale event fills a missing value", get: func(c *Call) string { return c.Interaction.Activity.QueueName }, want: "Sales"},
		{name: "stale event does not replace the lead name", get: func(c *Call) string { return c.Interaction.LeadData.Name }, want: "Jane"},
		{name: "stale event does not replace the phones", get: func(c *Call) string { return c.Interaction.LeadData.Phones[0].Phone }, want: "0299990000"},
	}
	var c Call
	for _, ev := range []*Event{alert, start, lateAlert} {
		if _, err := c.Apply(ev); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.get(&c); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	// The call owns its copy of the phones.
	alert.Interaction.LeadData.Phones[0].Phone = "changed"
	if c.Interaction.LeadData.Phones[0].Phone != "0299990000" {
		t.Error("the call shares the event's phones slice")
	}
}

func TestSeenEventsAreBounded(t *testing.T) {
	var c Call
	for i := range MaxSeenEvents + 10 {
		ev := event(fmt.Sprintf("e%d", i), CallStarted, CallInbound, at(i))
		if _, err := c.Apply(ev); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		id   string
		want bool
	}{
		{name: "recent id remembered", id: fmt.Sprintf("e%d", MaxSeenEvents+9), want: true},
		{name: "oldest id in the window remembered", id: "e10", want: true},
		{name: "id older than the window forgotten", id: "e9", want: false},
	}
	if len(c.SeenEventIDs) != MaxSeenEvents {
		t.Fatalf("remembers %d ids, want %d", len(c.SeenEventIDs), MaxSeenEvents)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := c.Apply(event(tt.id, CallStarted, CallInbound, at(0)))
			if err != nil {
				t.Fatal(err)
			}
			if tr.Duplicate != tt.want {
				t.Errorf("Duplicate = %v, want %v", tr.Duplicate, tt.want)
			}
			if !tr.Duplicate && !tr.Stale {
				t.Errorf("a forgotten old event must still be stale: %+v", tr)
			}
		})
	}
}

// TestCallJSON pins the persisted format of a Call (testdata/call.golden.json)
// and checks it round-trips.
func TestCallJSON(t *testing.T) {
	var c Call
	for _, ev := range loadCall(t, "preview") {
		if _, err := c.Apply(ev); err != nil {
			t.Fatal(err)
		}
	}
	c.PhoneCallID = "6f1c2b7e-0a4d-4c61-9b7f-3e2a1d0c9b8a"
	got, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join("testdata", "call.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Call JSON changed (run with -update if intended):\n%s", got)
	}
	var back Call
	if err := json.Unmarshal(want, &back); err != nil {
		t.Fatal(err)
	}
	again, _ := json.MarshalIndent(&back, "", "  ")
	if !bytes.Equal(append(again, '\n'), want) {
		t.Errorf("Call JSON does not round-trip:\n%s", again)
	}
}

func TestTransitionEntered(t *testing.T) {
	tests := []struct {
		name string
		tr   Transition
		want []State
	}{
		{name: "no move enters nothing", tr: Transition{From: Connected, To: Connected, Stale: true}, want: nil},
		{name: "plain move enters the target", tr: Transition{From: Alerting, To: Connected}, want: []State{Connected}},
		{name: "implied states come first", tr: Transition{From: Idle, To: Wrapped, Implied: []State{Alerting, Connected, Ended}},
			want: []State{Alerting, Connected, Ended, Wrapped}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.tr.Entered(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Entered() = %v, want %v", got, tt.want)
			}
		})
	}
}
