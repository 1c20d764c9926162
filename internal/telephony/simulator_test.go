package telephony

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/internal/interaction"
	"github.com/ctibridge/ctibridge/internal/sandbox"
)

var testNumbers = ScenarioNumbers{
	"single":  {"0299990000"},
	"several": {"0388880000", "0388880001"},
	"none":    {},
	"account": {"+61 2 9999 1234"},
	"lead":    {"0400111222"},
}

// simLog is a sink that records, in delivery order, every event and agent
// state change the simulator delivers.
type simLog struct {
	got chan simEntry
}

type simEntry struct {
	event *interaction.Event
	state *AgentStateChange
}

// String is "callAlerting IX-1" for an event, "1042 Ready" for a state.
func (e simEntry) String() string {
	if e.event != nil {
		return string(e.event.Type) + " " + e.event.Interaction.AgentInteractionID
	}
	s := e.state.AgentID + " " + string(e.state.State)
	if e.state.Reason != "" {
		s += " (" + e.state.Reason + ")"
	}
	return s
}

func (l *simLog) HandleEvent(ctx context.Context, ev *interaction.Event) error {
	l.got <- simEntry{event: ev}
	return nil
}

func (l *simLog) HandleAgentState(ctx context.Context, c AgentStateChange) error {
	l.got <- simEntry{state: &c}
	return nil
}

// next waits for the next n deliveries. The deadline only stops a broken
// test from hanging; it asserts nothing about speed.
func (l *simLog) next(t *testing.T, n int) []simEntry {
	t.Helper()
	out := make([]simEntry, 0, n)
	for len(out) < n {
		select {
		case e := <-l.got:
			out = append(out, e)
		case <-time.After(10 * time.Second):
			t.Fatalf("waited for %d deliveries, got %d: %v", n, len(out), out)
		}
	}
	return out
}

// nothingMore checks nothing else was delivered, once Run has stopped.
func (l *simLog) nothingMore(t *testing.T) {
	t.Helper()
	select {
	case e := <-l.got:
		t.Errorf("unexpected delivery %v", e)
	default:
	}
}

func strs(entries []simEntry) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.String()
	}
	return out
}

func testSimOptions() SimulatorOptions {
	return SimulatorOptions{
		Numbers:   testNumbers,
		Rand:      rand.New(rand.NewPCG(1, 2)),
		Now:       func() time.Time { return testNow },
		FirstID:   1,
		WrapCodes: map[string]string{"12": "Sale", "40": "No sale"},
	}
}

// startSimulator runs a simulator until the test ends and returns it with the
// log of what it delivers. stop ends Run early and waits for it.
func startSimulator(t *testing.T, opts SimulatorOptions) (s *Simulator, log *simLog, stop func()) {
	t.Helper()
	s, err := NewSimulator(opts)
	if err != nil {
		t.Fatalf("NewSimulator: %v", err)
	}
	log = &simLog{got: make(chan simEntry, 1000)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, log) }()
	for {
		s.mu.Lock()
		running := s.running
		s.mu.Unlock()
		if running {
			break
		}
		runtime.Gosched()
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(stop)
	return s, log, stop
}

// lookup resolves a dotted path ("interaction.activity.customerCli") in an
// event's Document, as config paths do.
func lookup(doc map[string]any, path string) (any, bool) {
	var v any = doc
	for _, key := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[key]; !ok {
			return nil, false
		}
	}
	return v, true
}

// leadPhones reads interaction.leadData.phones from the Document as
// index → phone, failing if an item lacks its index or phone.
func leadPhones(t *testing.T, ev *interaction.Event) map[string]string {
	t.Helper()
	raw, ok := lookup(ev.Document, "interaction.leadData.phones")
	list, isList := raw.([]any)
	if !ok || !isList {
		t.Fatalf("%s %s: interaction.leadData.phones is %v, want a list", ev.Type, ev.ID, raw)
	}
	out := map[string]string{}
	for i, item := range list {
		m, _ := item.(map[string]any)
		index, hasIndex := m["index"].(json.Number)
		phone, hasPhone := m["phone"].(string)
		if !hasIndex || !hasPhone {
			t.Fatalf("phones[%d] = %v, want an index number and a phone", i, item)
		}
		out[index.String()] = phone
	}
	return out
}

func text(t *testing.T, ev *interaction.Event, path string) string {
	t.Helper()
	v, ok := lookup(ev.Document, path)
	if !ok {
		t.Fatalf("%s %s: path %s is absent", ev.Type, ev.ID, path)
	}
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	}
	t.Fatalf("%s %s: path %s is %T", ev.Type, ev.ID, path, v)
	return ""
}

func TestSimulatorCallSequences(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		callType interaction.CallType
		scenario string
		timing   Timing
		// drive takes the call from where PlaceCall leaves it to wrapped.
		drive   func(s *Simulator, id string) error
		wantLog []string
		// check inspects the events of the call.
		check func(t *testing.T, events []*interaction.Event)
	}{
		{
			name: "inbound: rings, connects, hangs up, is wrapped", callType: interaction.CallInbound, scenario: "single",
			drive: func(s *Simulator, id string) error {
				return errors.Join(s.Hangup(ctx, id), s.Wrap(ctx, "1042", id, "12", "Asked about billing"))
			},
			wantLog: []string{"1042 Ready", "callAlerting IX-1", "1042 OnCall", "callStarted IX-1", "1042 OnWrap", "callHangup IX-1", "callWrapped IX-1", "1042 Ready"},
			check: func(t *testing.T, events []*interaction.Event) {
				for _, ev := range events {
					if cli := text(t, ev, "interaction.activity.customerCli"); cli != "0299990000" {
						t.Errorf("%s: customerCli %q, want the caller 0299990000", ev.Type, cli)
					}
					if src := text(t, ev, "interaction.activity.sourcePhoneNumber"); src != "0299990000" {
						t.Errorf("%s: sourcePhoneNumber %q, want the caller", ev.Type, src)
					}
					text(t, ev, "interaction.activity.queueName")
					text(t, ev, "interaction.activity.campaignName")
					if _, hasLead := lookup(ev.Document, "interaction.leadData"); hasLead {
						t.Errorf("%s: an inbound call has leadData", ev.Type)
					}
				}
			},
		},
		{
			name: "outbound: dials the lead's phone, connects, hangs up, is wrapped", callType: interaction.CallOutbound, scenario: "lead",
			drive: func(s *Simulator, id string) error {
				return errors.Join(s.Hangup(ctx, id), s.Wrap(ctx, "1042", id, "40", ""))
			},
			wantLog: []string{"1042 Ready", "1042 Dialling", "callAlerting IX-1", "1042 OnCall", "callStarted IX-1", "1042 OnWrap", "callHangup IX-1", "callWrapped IX-1", "1042 Ready"},
			check: func(t *testing.T, events []*interaction.Event) {
				for _, ev := range events {
					phones := leadPhones(t, ev)
					index := text(t, ev, "interaction.leadData.phoneIndex")
					cli := text(t, ev, "interaction.activity.customerCli")
					if cli != "0400111222" || phones[index] != cli {
						t.Errorf("%s: customerCli %q, phone %s of %v; want the scenario's number, dialled", ev.Type, cli, index, phones)
					}
					if dst := text(t, ev, "interaction.activity.destinationPhoneNumber"); dst != cli {
						t.Errorf("%s: destination %q, want the dialled %q", ev.Type, dst, cli)
					}
					text(t, ev, "interaction.leadData.name")
					text(t, ev, "interaction.activity.campaignId")
				}
			},
		},
		{
			name: "preview: the lead is allocated, dialled by the agent, talked to and wrapped", callType: interaction.CallPreview, scenario: "single",
			drive: func(s *Simulator, id string) error {
				dialled, err := s.Dial(ctx, "1042", "")
				if dialled != id {
					err = errors.Join(err, fmt.Errorf("Dial dialled %q, want the preview %q", dialled, id))
				}
				return errors.Join(err, s.Hangup(ctx, id), s.Wrap(ctx, "1042", id, "12", ""))
			},
			wantLog: []string{"1042 Ready", "previewAllocated IX-1", "1042 Dialling", "callAlerting IX-1", "1042 OnCall", "callStarted IX-1", "1042 OnWrap", "callHangup IX-1", "callWrapped IX-1", "1042 Ready"},
			check: func(t *testing.T, events []*interaction.Event) {
				// The reference config pops previews on phones.index=1.
				preview := events[0]
				if phones := leadPhones(t, preview); phones["1"] != "0299990000" {
					t.Errorf("previewAllocated phones %v, want the scenario's number at index 1", phones)
				}
				if _, hasActivity := lookup(preview.Document, "interaction.activity.activityId"); hasActivity {
					t.Error("previewAllocated has an activityId before any call was placed")
				}
				for _, ev := range events {
					if ct := text(t, ev, "interaction.callType"); ct != "preview" {
						t.Errorf("%s: callType %q, want preview", ev.Type, ct)
					}
				}
				text(t, events[1], "interaction.activity.activityId")
			},
		},
		{
			name: "manual: dials from the dial pad", callType: interaction.CallManual, scenario: "account",
			drive: func(s *Simulator, id string) error {
				return errors.Join(s.Hangup(ctx, id), s.Wrap(ctx, "1042", id, "12", ""))
			},
			wantLog: []string{"1042 Ready", "1042 Dialling", "callAlerting IX-1", "1042 OnCall", "callStarted IX-1", "1042 OnWrap", "callHangup IX-1", "callWrapped IX-1", "1042 Ready"},
			check: func(t *testing.T, events []*interaction.Event) {
				for _, ev := range events {
					if cli := text(t, ev, "interaction.activity.customerCli"); cli != "+61 2 9999 1234" {
						t.Errorf("%s: customerCli %q, want the scenario's number", ev.Type, cli)
					}
				}
			},
		},
		{
			name: "a preview the agent skips is reported as a call that never connected", callType: interaction.CallPreview, scenario: "lead",
			drive: func(s *Simulator, id string) error {
				return s.Wrap(ctx, "1042", id, "40", "Not interested")
			},
			wantLog: []string{"1042 Ready", "previewAllocated IX-1", "1042 OnWrap", "callFailed IX-1", "callWrapped IX-1", "1042 Ready"},
		},
		{
			name: "a call that is not answered fails and is still wrapped", callType: interaction.CallOutbound, scenario: "none",
			// Ringing that does not end on its own, so the wrap comes first.
			timing: Timing{RingTime: time.Hour},
			drive: func(s *Simulator, id string) error {
				return errors.Join(s.Wrap(ctx, "1042", id, "40", "No answer"))
			},
			wantLog: []string{"1042 Ready", "1042 Dialling", "callAlerting IX-1", "1042 OnWrap", "callFailed IX-1", "callWrapped IX-1", "1042 Ready"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testSimOptions()
			opts.Timing = tt.timing
			s, log, stop := startSimulator(t, opts)
			id, err := s.PlaceCall(ctx, "1042", tt.callType, tt.scenario)
			if err != nil {
				t.Fatalf("PlaceCall: %v", err)
			}
			if err := tt.drive(s, id); err != nil {
				t.Fatalf("driving the call: %v", err)
			}
			entries := log.next(t, len(tt.wantLog))
			if got := strs(entries); !slices.Equal(got, tt.wantLog) {
				t.Errorf("delivered\n  %v\nwant\n  %v", got, tt.wantLog)
			}
			var events []*interaction.Event
			var call interaction.Call
			for _, e := range entries {
				if e.event == nil {
					continue
				}
				events = append(events, e.event)
				// Every event fits the lifecycle state machine and moves
				// it forward.
				tr, err := call.Apply(e.event)
				if err != nil || !tr.Moved() || tr.Duplicate {
					t.Errorf("%s %s: transition %+v, error %v", e.event.Type, e.event.ID, tr, err)
				}
			}
			if call.State != interaction.Wrapped {
				t.Errorf("the call ended %s, want wrapped", call.State)
			}
			if tt.check != nil {
				tt.check(t, events)
			}
			stop()
			log.nothingMore(t)
		})
	}
}

func TestSimulatorDial(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// preview places a preview for the agent first (scenario "single":
		// phone 1 is 0299990000).
		preview   bool
		number    string
		wantErr   string
		wantType  interaction.CallType
		wantCLI   string
		wantIndex string
	}{
		{name: "click-to-dial places a manual call", number: "0412 345 678", wantType: interaction.CallManual, wantCLI: "0412 345 678"},
		{name: "dialling without a number", number: "", wantErr: "dial: number is empty"},
		{name: "with a preview allocated, an empty number dials the allocated phone", preview: true, number: "", wantType: interaction.CallPreview, wantCLI: "0299990000", wantIndex: "1"},
		{name: "with a preview allocated, a lead phone in any format dials it", preview: true, number: "(02) 9999 0000", wantType: interaction.CallPreview, wantCLI: "0299990000", wantIndex: "1"},
		{name: "with a preview allocated, another number is refused", preview: true, number: "0711112222", wantErr: "0711112222 is not one of the lead's phones (0299990000, 0491570"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, log, _ := startSimulator(t, testSimOptions())
			skip := 1 // "1042 Ready"
			if tt.preview {
				if _, err := s.PlaceCall(ctx, "1042", interaction.CallPreview, "single"); err != nil {
					t.Fatal(err)
				}
				skip++
			}
			id, err := s.Dial(ctx, "1042", tt.number)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			log.next(t, skip)
			entries := log.next(t, 2) // Dialling, callAlerting
			ev := entries[1].event
			if got := strs(entries); !slices.Equal(got, []string{"1042 Dialling", "callAlerting " + id}) {
				t.Fatalf("delivered %v", got)
			}
			if ev.Interaction.CallType != tt.wantType || text(t, ev, "interaction.activity.customerCli") != tt.wantCLI {
				t.Errorf("call type %s customerCli %q, want %s %q", ev.Interaction.CallType, ev.Interaction.Activity.CustomerCLI, tt.wantType, tt.wantCLI)
			}
			if tt.wantIndex != "" && text(t, ev, "interaction.leadData.phoneIndex") != tt.wantIndex {
				t.Errorf("phoneIndex %d, want %s", ev.Interaction.LeadData.PhoneIndex, tt.wantIndex)
			}
		})
	}
}

func TestSimulatorWrap(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// hangup hangs the call up before wrapping.
		hangup    bool
		agentID   string
		wrapCode  string
		wantErr   string
		wantLog   []string
		wantDesc  string
		wantNotes string
	}{
		{name: "wrap after hangup carries the code, its description and the notes", hangup: true, agentID: "1042", wrapCode: "12",
			wantLog: []string{"callWrapped IX-1", "1042 Ready"}, wantDesc: "Sale", wantNotes: "Renewed"},
		{name: "wrap during the call hangs it up first", agentID: "1042", wrapCode: "40",
			wantLog: []string{"1042 OnWrap", "callHangup IX-1", "callWrapped IX-1", "1042 Ready"}, wantDesc: "No sale", wantNotes: "Renewed"},
		{name: "a code without a description", hangup: true, agentID: "1042", wrapCode: "99",
			wantLog: []string{"callWrapped IX-1", "1042 Ready"}, wantNotes: "Renewed"},
		{name: "another agent cannot wrap the call", hangup: true, agentID: "2001", wrapCode: "12",
			wantErr: "interaction IX-1 belongs to agent 1042, not 2001"},
		{name: "a wrap code is required", hangup: true, agentID: "1042", wrapCode: "",
			wantErr: "wrapCode is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, log, _ := startSimulator(t, testSimOptions())
			id, err := s.PlaceCall(ctx, "1042", interaction.CallInbound, "single")
			if err != nil {
				t.Fatal(err)
			}
			log.next(t, 4) // Ready, callAlerting, OnCall, callStarted
			if tt.hangup {
				if err := s.Hangup(ctx, id); err != nil {
					t.Fatal(err)
				}
				log.next(t, 2) // OnWrap, callHangup
			}
			err = s.Wrap(ctx, tt.agentID, id, tt.wrapCode, "Renewed")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			entries := log.next(t, len(tt.wantLog))
			if got := strs(entries); !slices.Equal(got, tt.wantLog) {
				t.Fatalf("delivered %v, want %v", got, tt.wantLog)
			}
			wrapped := entries[len(entries)-2].event
			a := wrapped.Interaction.Activity
			if a.WrapCode != tt.wrapCode || a.WrapDescription != tt.wantDesc || a.Notes != tt.wantNotes {
				t.Errorf("wrap code %q description %q notes %q, want %q %q %q", a.WrapCode, a.WrapDescription, a.Notes, tt.wrapCode, tt.wantDesc, tt.wantNotes)
			}
			if text(t, wrapped, "interaction.activity.wrapCode") != tt.wrapCode {
				t.Error("wrapCode is not in the event document")
			}
			if err := s.Wrap(ctx, "1042", id, "12", ""); err == nil || !strings.Contains(err.Error(), "no interaction") {
				t.Errorf("a second wrap: error %v, want one saying the interaction is over", err)
			}
		})
	}
}

func TestSimulatorAgentStates(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// script runs against the simulator; its error is checked against
		// wantErr.
		script    func(s *Simulator) error
		wantErr   string
		wantLog   []string
		wantState AgentState
	}{
		{
			name: "a paused agent is not offered queue calls",
			script: func(s *Simulator) error {
				if err := s.SetAgentState(ctx, "1042", AgentPaused, "Lunch"); err != nil {
					return err
				}
				_, err := s.PlaceCall(ctx, "1042", interaction.CallInbound, "single")
				return err
			},
			wantErr: "agent 1042 is Paused: inbound calls go to Ready agents only",
			wantLog: []string{"1042 Paused (Lunch)"}, wantState: AgentPaused,
		},
		{
			name: "a paused agent may dial manually and is paused again after the wrap",
			script: func(s *Simulator) error {
				id, err := s.Dial(ctx, "1042", "0299990000")
				return errors.Join(err, s.Wrap(ctx, "1042", id, "12", ""))
			},
			wantLog:   []string{"1042 Dialling", "callAlerting IX-1", "1042 OnCall", "callStarted IX-1", "1042 OnWrap", "callHangup IX-1", "callWrapped IX-1", "1042 Paused (Lunch)"},
			wantState: AgentPaused,
		},
		{
			name: "a pause asked for during a call applies after the wrap",
			script: func(s *Simulator) error {
				s.SetAgentState(ctx, "1042", AgentReady, "")
				id, err := s.PlaceCall(ctx, "1042", interaction.CallInbound, "single")
				return errors.Join(err, s.SetAgentState(ctx, "1042", AgentPaused, "Training"), s.Wrap(ctx, "1042", id, "12", ""))
			},
			wantLog:   []string{"1042 Ready", "callAlerting IX-2", "1042 OnCall", "callStarted IX-2", "1042 OnWrap", "callHangup IX-2", "callWrapped IX-2", "1042 Paused (Training)"},
			wantState: AgentPaused,
		},
		{
			name: "a busy agent is not offered another call",
			script: func(s *Simulator) error {
				s.SetAgentState(ctx, "1042", AgentReady, "")
				if _, err := s.PlaceCall(ctx, "1042", interaction.CallOutbound, "single"); err != nil {
					return err
				}
				_, err := s.PlaceCall(ctx, "1042", interaction.CallInbound, "single")
				return err
			},
			wantErr:   "agent 1042 already has call IX-3 (connected) and takes one call at a time: wrap that one first",
			wantLog:   []string{"1042 Ready", "1042 Dialling", "callAlerting IX-3", "1042 OnCall", "callStarted IX-3"},
			wantState: AgentOnCall,
		},
		{
			name: "a logged out agent gets no calls",
			script: func(s *Simulator) error {
				if err := s.Hangup(ctx, "IX-3"); err != nil {
					return err
				}
				if err := s.SetAgentState(ctx, "1042", AgentLoggedOut, "ignored"); err != nil {
					return err
				}
				if err := s.Wrap(ctx, "1042", "IX-3", "12", ""); err != nil {
					return err
				}
				_, err := s.Dial(ctx, "1042", "0299990000")
				return err
			},
			wantErr:   "agent 1042 is logged out: log in to the widget and choose Ready first",
			wantLog:   []string{"1042 OnWrap", "callHangup IX-3", "callWrapped IX-3", "1042 LoggedOut"},
			wantState: AgentLoggedOut,
		},
		{
			name:      "agents cannot ask for call states",
			script:    func(s *Simulator) error { return s.SetAgentState(ctx, "1042", AgentOnCall, "") },
			wantErr:   `"OnCall" cannot be requested`,
			wantState: AgentLoggedOut,
		},
	}
	// The steps build on each other, as an agent's shift would.
	s, log, _ := startSimulator(t, testSimOptions())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.script(s)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
			if got := strs(log.next(t, len(tt.wantLog))); !slices.Equal(got, tt.wantLog) {
				t.Errorf("delivered\n  %v\nwant\n  %v", got, tt.wantLog)
			}
			if state, _ := s.StateOf("1042"); state != tt.wantState {
				t.Errorf("agent state %s, want %s", state, tt.wantState)
			}
		})
	}
}

func TestSimulatorTimedCalls(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		callType interaction.CallType
		wantLog  []string
	}{
		{
			name: "an outbound call runs to its auto-wrap on its own", callType: interaction.CallOutbound,
			wantLog: []string{"1042 Ready", "1042 Dialling", "callAlerting IX-1", "1042 OnCall", "callStarted IX-1", "1042 OnWrap", "callHangup IX-1", "callWrapped IX-1", "1042 Ready"},
		},
		{
			name: "a preview is dialled after the preview time", callType: interaction.CallPreview,
			wantLog: []string{"1042 Ready", "previewAllocated IX-1", "1042 Dialling", "callAlerting IX-1", "1042 OnCall", "callStarted IX-1", "1042 OnWrap", "callHangup IX-1", "callWrapped IX-1", "1042 Ready"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testSimOptions()
			opts.Timing = Timing{PreviewTime: time.Millisecond, RingTime: time.Millisecond, TalkTime: time.Millisecond, WrapTime: time.Millisecond}
			opts.AutoWrapCode = "98"
			s, log, _ := startSimulator(t, opts)
			if _, err := s.PlaceCall(ctx, "1042", tt.callType, "single"); err != nil {
				t.Fatal(err)
			}
			entries := log.next(t, len(tt.wantLog))
			if got := strs(entries); !slices.Equal(got, tt.wantLog) {
				t.Fatalf("delivered\n  %v\nwant\n  %v", got, tt.wantLog)
			}
			wrapped := entries[len(entries)-2].event.Interaction.Activity
			if wrapped.WrapCode != "98" || wrapped.WrapDescription != "Auto wrap" {
				t.Errorf("auto-wrap code %q description %q, want 98 and Auto wrap", wrapped.WrapCode, wrapped.WrapDescription)
			}
		})
	}
}

// scriptEvents is how many events script produces: per agent, four calls of
// four events each plus the preview's previewAllocated.
const scriptEvents = 2 * (4*4 + 1)

// script places one call of every type for two agents and drives each to its
// wrap; it returns every event delivered.
func script(t *testing.T, opts SimulatorOptions) []*interaction.Event {
	t.Helper()
	ctx := context.Background()
	s, log, stop := startSimulator(t, opts)
	for _, ct := range []interaction.CallType{interaction.CallInbound, interaction.CallOutbound, interaction.CallPreview, interaction.CallManual} {
		for _, agent := range []string{"1042", "2001"} {
			id, err := s.PlaceCall(ctx, agent, ct, "")
			if err != nil {
				t.Fatal(err)
			}
			if ct == interaction.CallPreview {
				if _, err := s.Dial(ctx, agent, ""); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Wrap(ctx, agent, id, "12", "notes"); err != nil {
				t.Fatal(err)
			}
		}
	}
	var events []*interaction.Event
	for len(events) < scriptEvents {
		if e := log.next(t, 1)[0]; e.event != nil {
			events = append(events, e.event)
		}
	}
	stop()
	for e := range len(log.got) {
		if entry := <-log.got; entry.event != nil {
			t.Errorf("event %d beyond the expected %d: %v", scriptEvents+e, scriptEvents, entry)
		}
	}
	return events
}

func TestSimulatorDeterministic(t *testing.T) {
	first := script(t, testSimOptions())
	second := script(t, testSimOptions())
	for i := range first {
		a, _ := json.Marshal(first[i].Document)
		b, _ := json.Marshal(second[i].Document)
		if string(a) != string(b) {
			t.Errorf("event %d differs between runs with the same seed:\n  %s\n  %s", i, a, b)
		}
	}
	// And the seed is what decides: another one gives other numbers, lead
	// names, queues and campaigns.
	opts := testSimOptions()
	opts.Rand = rand.New(rand.NewPCG(3, 4))
	other := script(t, opts)
	differ := false
	for i := range first {
		a, _ := json.Marshal(first[i].Document)
		b, _ := json.Marshal(other[i].Document)
		differ = differ || string(a) != string(b)
	}
	if !differ {
		t.Error("another seed produced exactly the same events")
	}
}

func TestSimulatorEventIdentity(t *testing.T) {
	events := script(t, testSimOptions())
	seen := map[string]bool{}
	interactions := map[string]bool{}
	for i, ev := range events {
		if seen[ev.ID] {
			t.Errorf("event id %s repeats", ev.ID)
		}
		seen[ev.ID] = true
		interactions[ev.Interaction.AgentInteractionID] = true
		if !strings.HasPrefix(ev.Interaction.AgentInteractionID, "IX-") {
			t.Errorf("agentInteractionId %q, want IX-<n>", ev.Interaction.AgentInteractionID)
		}
		if i > 0 && !ev.Time.After(events[i-1].Time) {
			t.Errorf("event %d at %v does not advance on %v", i, ev.Time, events[i-1].Time)
		}
	}
	if len(interactions) != 8 {
		t.Errorf("%d interactions, want 8 (4 call types × 2 agents)", len(interactions))
	}
}

func TestSimulatorRunStops(t *testing.T) {
	ctx := context.Background()
	opts := testSimOptions()
	opts.Timing = Timing{RingTime: time.Hour, TalkTime: time.Hour, WrapTime: time.Hour}
	s, log, stop := startSimulator(t, opts)
	if _, err := s.PlaceCall(ctx, "1042", interaction.CallInbound, "single"); err != nil {
		t.Fatal(err)
	}
	if err := s.Run(ctx, log); err == nil {
		t.Error("a second concurrent Run was allowed")
	}
	log.next(t, 2) // Ready, callAlerting
	// The call's hour-long ring timer must not keep Run alive.
	stop()
	log.nothingMore(t)
	if _, err := s.PlaceCall(ctx, "1042", interaction.CallInbound, "single"); !errors.Is(err, ErrNotRunning) {
		t.Errorf("PlaceCall after Run: error %v, want ErrNotRunning", err)
	}
	if state, _ := s.StateOf("1042"); state != AgentLoggedOut {
		t.Errorf("after Run the agent is %s, want LoggedOut: a new Run starts afresh", state)
	}
}

func TestSimulatorScenarios(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		numbers  ScenarioNumbers
		scenario string
		wantCLI  func(string) bool
		wantErr  string
	}{
		{name: "a scenario's number", numbers: testNumbers, scenario: "account", wantCLI: func(n string) bool { return n == "+61 2 9999 1234" }},
		{name: "one of a scenario's numbers", numbers: testNumbers, scenario: "several", wantCLI: func(n string) bool { return n == "0388880000" || n == "0388880001" }},
		{name: "a scenario without numbers gets a fictitious one", numbers: testNumbers, scenario: "none", wantCLI: func(n string) bool { return strings.HasPrefix(n, "0491570") }},
		{name: "no scenario picks any", numbers: ScenarioNumbers{"single": {"0299990000"}}, scenario: "", wantCLI: func(n string) bool { return n == "0299990000" }},
		{name: "no scenarios at all", numbers: nil, scenario: "", wantCLI: func(n string) bool { return strings.HasPrefix(n, "0491570") }},
		{name: "an unknown scenario lists the known ones", numbers: testNumbers, scenario: "vip", wantErr: `unknown scenario "vip": use one of account, lead, none, several, single`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testSimOptions()
			opts.Numbers = tt.numbers
			s, log, _ := startSimulator(t, opts)
			_, err := s.PlaceCall(ctx, "1042", interaction.CallInbound, tt.scenario)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ev := log.next(t, 2)[1].event
			if cli := ev.Interaction.Activity.CustomerCLI; !tt.wantCLI(cli) {
				t.Errorf("customerCli %q is not what the scenario gives", cli)
			}
		})
	}
}

func TestNewSimulatorOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    SimulatorOptions
		wantErr string
	}{
		{name: "a negative duration", opts: SimulatorOptions{Timing: Timing{TalkTime: -time.Second}}, wantErr: "TalkTime is -1s"},
		{name: "an empty number", opts: SimulatorOptions{Numbers: ScenarioNumbers{"single": {""}}}, wantErr: `numbers["single"][0] is empty`},
		{name: "an unnamed scenario", opts: SimulatorOptions{Numbers: ScenarioNumbers{"": {"0299990000"}}}, wantErr: "a scenario name is empty"},
		{name: "a lead name without a number", opts: SimulatorOptions{LeadNames: LeadNames{"n/a": "Olivia Bennett"}}, wantErr: `number "n/a" has no digits`},
		{name: "an empty lead name", opts: SimulatorOptions{LeadNames: LeadNames{"0299990000": " "}}, wantErr: `lead names["0299990000"] is empty`},
		{name: "defaults", opts: SimulatorOptions{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewSimulator(tt.opts)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("error %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestSimulatorHangupRefusals(t *testing.T) {
	ctx := context.Background()
	s, _, _ := startSimulator(t, testSimOptions())
	preview, err := s.PlaceCall(ctx, "1042", interaction.CallPreview, "single")
	if err != nil {
		t.Fatal(err)
	}
	ended, err := s.PlaceCall(ctx, "2001", interaction.CallInbound, "single")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Hangup(ctx, ended); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		interactionID string
		wantErr       string
	}{
		{name: "a preview not dialled yet", interactionID: preview, wantErr: "is a preview that was not dialled: dial it, or wrap it to skip it"},
		{name: "a call already hung up", interactionID: ended, wantErr: "has already ended: wrap it"},
		{name: "an unknown interaction", interactionID: "IX-404", wantErr: `no interaction "IX-404" in progress`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.Hangup(ctx, tt.interactionID); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestSimulatorLeadNames(t *testing.T) {
	ctx := context.Background()
	generated := func(name string) bool {
		first, last, _ := strings.Cut(name, " ")
		return slices.Contains(leadFirstNames, first) && slices.Contains(leadLastNames, last)
	}
	tests := []struct {
		name     string
		callType interaction.CallType
		scenario string
		want     func(string) bool
		wantDesc string
	}{
		{name: "a preview to a named number carries its name", callType: interaction.CallPreview, scenario: "single",
			want: func(n string) bool { return n == "Olivia Bennett" }, wantDesc: "Olivia Bennett"},
		{name: "an outbound call to a named number, written another way, carries its name", callType: interaction.CallOutbound, scenario: "lead",
			want: func(n string) bool { return n == "Priya Raman" }, wantDesc: "Priya Raman"},
		{name: "a preview to an unnamed number gets a generated name", callType: interaction.CallPreview, scenario: "several",
			want: generated, wantDesc: "a generated name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testSimOptions()
			opts.LeadNames = LeadNames{"0299990000": "Olivia Bennett", "0400 111 222": "Priya Raman"}
			s, log, _ := startSimulator(t, opts)
			if _, err := s.PlaceCall(ctx, "1042", tt.callType, tt.scenario); err != nil {
				t.Fatal(err)
			}
			var ev *interaction.Event
			for ev == nil {
				ev = log.next(t, 1)[0].event
			}
			if got := text(t, ev, "interaction.leadData.name"); !tt.want(got) {
				t.Errorf("%s: lead name %q, want %s", ev.Type, got, tt.wantDesc)
			}
		})
	}
}

func TestSimulatorAgentCalls(t *testing.T) {
	ctx := context.Background()
	opts := testSimOptions()
	opts.LeadNames = LeadNames{"0299990000": "Olivia Bennett"}
	s, _, _ := startSimulator(t, opts)
	if current, last := s.AgentCalls("1042"); current != nil || last != nil {
		t.Fatalf("an agent never seen: current %+v last %+v, want none", current, last)
	}
	check := func(step string, gotCurrent, gotLast, wantCurrent, wantLast *CallStatus) {
		t.Helper()
		for _, c := range []struct {
			what      string
			got, want *CallStatus
		}{{"current", gotCurrent, wantCurrent}, {"last", gotLast, wantLast}} {
			if (c.got == nil) != (c.want == nil) || c.got != nil && *c.got != *c.want {
				t.Errorf("%s: %s call %+v, want %+v", step, c.what, c.got, c.want)
			}
		}
	}

	preview, err := s.PlaceCall(ctx, "1042", interaction.CallPreview, "single")
	if err != nil {
		t.Fatal(err)
	}
	previewing := &CallStatus{InteractionID: preview, CallType: interaction.CallPreview, Phase: PhasePreviewing, Number: "0299990000", LeadName: "Olivia Bennett"}
	current, last := s.AgentCalls("1042")
	check("preview allocated", current, last, previewing, nil)

	if err := s.Wrap(ctx, "1042", preview, "5", ""); err != nil {
		t.Fatal(err)
	}
	skipped := *previewing
	skipped.Phase, skipped.WrapCode = PhaseSkipped, "5"
	current, last = s.AgentCalls("1042")
	check("preview wrapped without a dial", current, last, nil, &skipped)

	inbound, err := s.PlaceCall(ctx, "1042", interaction.CallInbound, "single")
	if err != nil {
		t.Fatal(err)
	}
	connected := &CallStatus{InteractionID: inbound, CallType: interaction.CallInbound, Phase: PhaseConnected, Number: "0299990000"}
	current, last = s.AgentCalls("1042")
	check("inbound connected", current, last, connected, &skipped)

	if err := s.Hangup(ctx, inbound); err != nil {
		t.Fatal(err)
	}
	wrapping := *connected
	wrapping.Phase = PhaseWrapping
	current, last = s.AgentCalls("1042")
	check("inbound hung up", current, last, &wrapping, &skipped)

	if err := s.Wrap(ctx, "1042", inbound, "12", ""); err != nil {
		t.Fatal(err)
	}
	wrapped := *connected
	wrapped.Phase, wrapped.WrapCode = PhaseWrapped, "12"
	current, last = s.AgentCalls("1042")
	check("inbound wrapped", current, last, nil, &wrapped)
}

func TestGeneratedLeadNamesAreNotDemoRecords(t *testing.T) {
	// A preview to a number no record holds must not look like one of the
	// demo's known people.
	for _, n := range sandbox.DemoNumbers {
		for _, r := range n.Records {
			for _, part := range strings.Fields(r.Name) {
				if slices.Contains(leadFirstNames, part) || slices.Contains(leadLastNames, part) {
					t.Errorf("generated lead names use %q, part of the demo record %s %q (%s)", part, r.Entity, r.Name, n.Key)
				}
			}
		}
	}
}

// A double click sends two requests: the second must neither fail nor
// contradict what the agent sees.
func TestSimulatorSecondRequestsOfADoubleClick(t *testing.T) {
	ctx := context.Background()
	t.Run("a second Dial of a preview being dialled is the same dial", func(t *testing.T) {
		opts := testSimOptions()
		opts.Timing.RingTime = time.Hour // the dial is still ringing the customer
		s, _, _ := startSimulator(t, opts)
		id, err := s.PlaceCall(ctx, "1042", interaction.CallPreview, "single")
		if err != nil {
			t.Fatal(err)
		}
		first, err := s.Dial(ctx, "1042", "")
		if err != nil || first != id {
			t.Fatalf("Dial = %q, %v, want %s", first, err, id)
		}
		second, err := s.Dial(ctx, "1042", "")
		if err != nil || second != id {
			t.Errorf("the second Dial = %q, %v; want %s again and no error", second, err, id)
		}
	})
	t.Run("a second call while the first rings says it rings", func(t *testing.T) {
		opts := testSimOptions()
		opts.Timing.RingTime = time.Hour
		s, _, _ := startSimulator(t, opts)
		id, err := s.PlaceCall(ctx, "1042", interaction.CallInbound, "single")
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.PlaceCall(ctx, "1042", interaction.CallInbound, "single")
		want := "agent 1042 already has call " + id + " (ringing)"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("the second call = %v, want %q", err, want)
		}
	})
}

func TestSimulatorNewNumberGivesEachCallItsOwn(t *testing.T) {
	opts := testSimOptions()
	n := 0
	opts.NewNumber = func(scenario string) string {
		if scenario != "none" {
			return ""
		}
		n++
		return fmt.Sprintf("+6129999%04d", 1000+n)
	}
	s, _, _ := startSimulator(t, opts)
	ctx := context.Background()
	seen := map[string]bool{}
	for range 3 {
		id, err := s.PlaceCall(ctx, "1042", interaction.CallInbound, "none")
		if err != nil {
			t.Fatal(err)
		}
		call, _ := s.AgentCalls("1042")
		if call == nil || seen[call.Number] || testNumbers["none"] != nil && slices.Contains(testNumbers["none"], call.Number) {
			t.Fatalf("call %s has number %+v, want a new one each time (had %v)", id, call, seen)
		}
		seen[call.Number] = true
		if err := s.Wrap(ctx, "1042", id, "12", ""); err != nil {
			t.Fatal(err)
		}
	}
	id, _ := s.PlaceCall(ctx, "1042", interaction.CallInbound, "single")
	if call, _ := s.AgentCalls("1042"); call == nil || !slices.Contains(testNumbers["single"], call.Number) {
		t.Errorf("call %s of another scenario has %+v, want one of its own numbers %v", id, call, testNumbers["single"])
	}
}

// The demo page counts down to the simulator's own steps: the status says
// when the next one is due.
func TestSimulatorCallStatusSaysWhenTheNextStepIsDue(t *testing.T) {
	opts := testSimOptions()
	opts.Timing = Timing{TalkTime: time.Hour}
	s, _, _ := startSimulator(t, opts)
	if _, err := s.PlaceCall(context.Background(), "1042", interaction.CallInbound, "single"); err != nil {
		t.Fatal(err)
	}
	call, _ := s.AgentCalls("1042")
	if call == nil || call.Phase != PhaseConnected || call.DueInMs <= 59*60*1000 || call.DueInMs > 60*60*1000 {
		t.Fatalf("the connected call's status is %+v, want the hang-up due in about an hour", call)
	}
}
