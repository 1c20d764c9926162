package loadtest

import (
	"strings"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/internal/interaction"
	"github.com/ctibridge/ctibridge/internal/sandbox"
)

func testScenario() Scenario {
	return Scenario{RunID: "LTtest", Agents: 100, EventsPerSecond: 30, Duration: 2 * time.Second,
		Ring: time.Second, Talk: 3 * time.Second, WrapAfter: 500 * time.Millisecond, WrapCode: "1"}
}

func drain(s Scenario) []ScheduledEvent {
	var out []ScheduledEvent
	g := NewGenerator(s)
	for {
		ev, ok := g.Next()
		if !ok {
			return out
		}
		out = append(out, ev)
	}
}

func TestGeneratorYieldsEveryEventOnceInTimeOrder(t *testing.T) {
	tests := []struct {
		name string
		s    Scenario
	}{
		{name: "ring and talk", s: testScenario()},
		{name: "no ring: alerting and started due together", s: func() Scenario { s := testScenario(); s.Ring = 0; return s }()},
		{name: "no ring, no talk: all three due together", s: func() Scenario { s := testScenario(); s.Ring, s.Talk = 0, 0; return s }()},
		{name: "fractional call rate", s: func() Scenario {
			s := testScenario()
			s.EventsPerSecond = 500
			s.Agents = 5000
			s.Duration = 3 * time.Second
			return s
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events := drain(tt.s)
			if len(events) != tt.s.Events() {
				t.Fatalf("%d events, want %d (%d calls × %d)", len(events), tt.s.Events(), tt.s.Calls(), EventsPerCall)
			}
			seen := map[[2]int]bool{}
			next := map[int]EventKind{}
			for i, ev := range events {
				if i > 0 && ev.At < events[i-1].At {
					t.Fatalf("event %d (%v of call %d) at %v comes before the previous one at %v", i, ev.Kind, ev.Call, ev.At, events[i-1].At)
				}
				key := [2]int{ev.Call, int(ev.Kind)}
				if seen[key] {
					t.Fatalf("%v of call %d yielded twice", ev.Kind, ev.Call)
				}
				seen[key] = true
				if ev.Kind != next[ev.Call] {
					t.Fatalf("call %d: %v came when %v was next: a call's events must keep lifecycle order", ev.Call, ev.Kind, next[ev.Call])
				}
				next[ev.Call]++
			}
		})
	}
}

func TestGeneratorTiming(t *testing.T) {
	s := testScenario() // 10 calls a second
	events := drain(s)
	want := map[[2]int]time.Duration{
		{0, int(Alerting)}: 0,
		{0, int(Started)}:  time.Second,
		{0, int(Hangup)}:   4 * time.Second,
		{3, int(Alerting)}: 300 * time.Millisecond,
		{19, int(Hangup)}:  1900*time.Millisecond + 4*time.Second,
	}
	for _, ev := range events {
		if at, ok := want[[2]int{ev.Call, int(ev.Kind)}]; ok && ev.At != at {
			t.Errorf("%v of call %d due at %v, want %v", ev.Kind, ev.Call, ev.At, at)
		}
	}
	if got, want := s.Span(), 5900*time.Millisecond; got != want {
		t.Errorf("Span = %v, want %v (last call placed at 1.9s, plus ring and talk)", got, want)
	}
}

func TestScenarioCounts(t *testing.T) {
	tests := []struct {
		name          string
		rate          float64
		duration      time.Duration
		calls, events int
	}{
		{name: "target load for a minute", rate: 500, duration: time.Minute, calls: 10000, events: 30000},
		{name: "a partial call is not placed", rate: 10, duration: time.Second, calls: 3, events: 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testScenario()
			s.EventsPerSecond, s.Duration = tt.rate, tt.duration
			if s.Calls() != tt.calls || s.Events() != tt.events {
				t.Errorf("Calls, Events = %d, %d, want %d, %d", s.Calls(), s.Events(), tt.calls, tt.events)
			}
		})
	}
}

func TestScenarioValidate(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*Scenario)
		wantErr string
	}{
		{name: "the test scenario is valid", change: func(*Scenario) {}},
		{name: "the target scenario is valid", change: func(s *Scenario) { s.Agents, s.EventsPerSecond, s.Duration = 5000, 500, time.Minute }},
		{name: "no agents", change: func(s *Scenario) { s.Agents = 0 }, wantErr: "--agents"},
		{name: "no rate", change: func(s *Scenario) { s.EventsPerSecond = 0 }, wantErr: "--rate"},
		{name: "no duration", change: func(s *Scenario) { s.Duration = 0 }, wantErr: "--duration"},
		{name: "too short to place a call", change: func(s *Scenario) { s.Duration = time.Millisecond }, wantErr: "places no call"},
		{name: "negative ring", change: func(s *Scenario) { s.Ring = -time.Second }, wantErr: "negative"},
		{name: "run id that would break a filter", change: func(s *Scenario) { s.RunID = "a'b" }, wantErr: "run id"},
		{
			name: "agents get calls faster than they finish them", change: func(s *Scenario) { s.Agents, s.EventsPerSecond = 100, 500 },
			wantErr: "use at least 1084 agents",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testScenario()
			tt.change(&s)
			err := s.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestBodyIsAValidEventOfTheCall(t *testing.T) {
	s := testScenario()
	now := time.Date(2025, 3, 4, 9, 15, 2, 0, time.UTC)
	for _, kind := range []EventKind{Alerting, Started, Hangup} {
		t.Run(kind.String(), func(t *testing.T) {
			ev, err := interaction.DecodeEvent(s.Body(ScheduledEvent{Call: 13, Kind: kind}, now))
			if err != nil {
				t.Fatalf("DecodeEvent: %v", err)
			}
			if ev.Type != kind.eventType() || ev.AgentID != AgentID(13) || ev.Interaction.AgentInteractionID != "LTtest-0000013" {
				t.Errorf("event is %s for agent %s, interaction %s; want %s for %s, LTtest-0000013", ev.Type, ev.AgentID, ev.Interaction.AgentInteractionID, kind, AgentID(13))
			}
			if ev.Interaction.CallType != interaction.CallInbound || ev.Interaction.Activity.CustomerCLI != s.CustomerOf(13).E164 {
				t.Errorf("call type %s from %s, want inbound from %s", ev.Interaction.CallType, ev.Interaction.Activity.CustomerCLI, s.CustomerOf(13).E164)
			}
			if !ev.Time.Equal(now) {
				t.Errorf("timestamp %v, want %v", ev.Time, now)
			}
			if ev.ID != "LTtest-0000013/"+kind.String() {
				t.Errorf("event id %q: a resent event must keep its id", ev.ID)
			}
		})
	}
}

func TestCallOfInvertsInteractionID(t *testing.T) {
	s := testScenario() // 20 calls
	tests := []struct {
		name string
		id   string
		call int
		ok   bool
	}{
		{name: "first call", id: s.InteractionID(0), call: 0, ok: true},
		{name: "last call", id: s.InteractionID(19), call: 19, ok: true},
		{name: "beyond the run", id: s.InteractionID(20), ok: false},
		{name: "another run", id: "LTother-0000001", ok: false},
		{name: "not a number", id: "LTtest-abc", ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call, ok := s.CallOf(tt.id)
			if ok != tt.ok || (ok && call != tt.call) {
				t.Errorf("CallOf(%q) = %d, %v; want %d, %v", tt.id, call, ok, tt.call, tt.ok)
			}
		})
	}
}

func TestCustomersHaveOneContactEach(t *testing.T) {
	if len(Customers) < 5 {
		t.Fatalf("%d single-contact demo numbers; the calls need a handful to vary", len(Customers))
	}
	for _, c := range Customers {
		matches := 0
		for _, d := range sandbox.DemoNumbers {
			if d.E164 == c.E164 {
				matches = len(d.Records)
			}
		}
		if c.Entity != "contact" || matches != 1 {
			t.Errorf("customer %s is a %s with %d records holding the number, want one contact", c.E164, c.Entity, matches)
		}
	}
}
