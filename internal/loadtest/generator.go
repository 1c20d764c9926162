// Package loadtest measures a running ctibridge the way a contact centre
// loads it: thousands of agent widgets connected over WebSocket, a steady
// stream of signed telephony events, widgets answering each screen pop and
// wrapping each call. It compares the adapter with a bare relay (the least a
// server can do to move an event to a socket), measures the server's memory
// and CPU from /proc, counts the Dataverse requests the sandbox CRM served,
// and in a fault run checks that every call placed ends as exactly one
// activity in the right state while the CRM throttles and the server is
// killed and restarted. cmd/ctiload is its command line.
package loadtest

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/ctibridge/ctibridge/internal/interaction"
	"github.com/ctibridge/ctibridge/internal/sandbox"
)

// EventsPerCall is how many webhook events one simulated call sends:
// callAlerting, callStarted and callHangup. The wrap comes from the widget.
const EventsPerCall = 3

// EventKind is one of the webhook events of a simulated call.
type EventKind int

// The events of a call, in the order the platform sends them.
const (
	Alerting EventKind = iota
	Started
	Hangup
)

func (k EventKind) eventType() interaction.EventType {
	switch k {
	case Alerting:
		return interaction.CallAlerting
	case Started:
		return interaction.CallStarted
	default:
		return interaction.CallHangup
	}
}

// String is the event type the kind sends.
func (k EventKind) String() string { return string(k.eventType()) }

// Scenario is the traffic of one run. Calls are placed at a steady rate,
// each to the next agent in turn; a call is callAlerting, then callStarted
// Ring later, then callHangup Talk after that, and the agent's widget wraps
// WrapAfter the hangup. In steady state that is EventsPerSecond webhook
// events a second.
type Scenario struct {
	// RunID prefixes every interaction and event id, so calls of different
	// runs against one CRM never mix.
	RunID  string
	Agents int
	// EventsPerSecond is the webhook event rate; calls are placed at a
	// third of it.
	EventsPerSecond float64
	// Duration is how long new calls are placed; the last calls' later
	// events follow within Ring+Talk.
	Duration  time.Duration
	Ring      time.Duration
	Talk      time.Duration
	WrapAfter time.Duration
	// WrapCode is what every widget wraps with.
	WrapCode string
}

// agentMargin is the least idle time an agent has between wrapping one
// call and the next one ringing, so that reconnect delays in a fault run
// do not overlap an agent's calls.
const agentMargin = 2 * time.Second

// Validate checks the scenario and says which flag to change.
func (s Scenario) Validate() error {
	switch {
	case s.RunID == "" || strings.ContainsAny(s.RunID, "'\" /?&#%"):
		return fmt.Errorf("run id %q: use letters, digits and dashes", s.RunID)
	case s.Agents <= 0:
		return fmt.Errorf("--agents is %d: use 1 or more", s.Agents)
	case s.EventsPerSecond <= 0 || math.IsInf(s.EventsPerSecond, 0) || math.IsNaN(s.EventsPerSecond):
		return fmt.Errorf("--rate is %v: use a positive number of events a second", s.EventsPerSecond)
	case s.Duration <= 0:
		return fmt.Errorf("--duration is %v: use a positive duration such as 60s", s.Duration)
	case s.Ring < 0 || s.Talk < 0 || s.WrapAfter < 0:
		return fmt.Errorf("--ring, --talk and --wrap-after must not be negative")
	case s.WrapCode == "":
		return fmt.Errorf("wrap code: is required")
	case s.Calls() == 0:
		return fmt.Errorf("--duration %v at --rate %v places no call: run longer or faster", s.Duration, s.EventsPerSecond)
	}
	// Each agent gets a call every Agents/callRate seconds; that must leave
	// room for the whole call and the wrap, or an agent would be handed a
	// call while still on the previous one.
	cycle := time.Duration(float64(s.Agents) / s.CallRate() * float64(time.Second))
	busy := s.Ring + s.Talk + s.WrapAfter
	if cycle < busy+agentMargin {
		return fmt.Errorf("--agents %d at --rate %v gives each agent a call every %v, but a call keeps an agent busy %v (ring+talk+wrap-after) plus %v idle: use at least %d agents, or a lower rate, or shorter calls",
			s.Agents, s.EventsPerSecond, cycle.Round(time.Millisecond), busy, agentMargin,
			int(math.Ceil((busy+agentMargin).Seconds()*s.CallRate())))
	}
	return nil
}

// CallRate is the number of calls placed per second.
func (s Scenario) CallRate() float64 { return s.EventsPerSecond / EventsPerCall }

// Calls is the number of calls the scenario places.
func (s Scenario) Calls() int { return int(s.Duration.Seconds() * s.CallRate()) }

// Events is the number of webhook events the scenario sends.
func (s Scenario) Events() int { return s.Calls() * EventsPerCall }

// Span is when the last event is due, from the start.
func (s Scenario) Span() time.Duration {
	return s.callStart(s.Calls()-1) + s.Ring + s.Talk
}

// AgentID is the agent of the scenario's n-th agent (0-based).
func AgentID(n int) string { return fmt.Sprintf("load-%05d", n) }

// AgentOf is the agent that takes call k.
func (s Scenario) AgentOf(call int) string { return AgentID(call % s.Agents) }

// InteractionID is call k's interaction id.
func (s Scenario) InteractionID(call int) string { return fmt.Sprintf("%s-%07d", s.RunID, call) }

// CallOf returns the call number of an interaction id of this run.
func (s Scenario) CallOf(interactionID string) (int, bool) {
	rest, ok := strings.CutPrefix(interactionID, s.RunID+"-")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 || n >= s.Calls() {
		return 0, false
	}
	return n, true
}

func (s Scenario) callStart(call int) time.Duration {
	return time.Duration(float64(call) / s.CallRate() * float64(time.Second))
}

// Customer is the caller of a simulated call: a number the sandbox CRM
// holds on exactly one contact, so the pop finds one record.
type Customer struct {
	E164   string
	Entity string
	ID     string
	Name   string
}

// Customers are the sandbox's demo numbers held by exactly one contact: the
// reference config's inbound rule searches contacts, so each is a pop with
// one match, as in most real inbound calls.
var Customers = singleContactNumbers()

func singleContactNumbers() []Customer {
	var out []Customer
	for _, d := range sandbox.DemoNumbers {
		if len(d.Records) == 1 && d.Records[0].Entity == "contact" {
			r := d.Records[0]
			out = append(out, Customer{E164: d.E164, Entity: r.Entity, ID: r.ID, Name: r.Name})
		}
	}
	return out
}

// CustomerOf is call k's caller.
func (s Scenario) CustomerOf(call int) Customer { return Customers[call%len(Customers)] }

// ScheduledEvent is one webhook event due At after the run starts.
type ScheduledEvent struct {
	At   time.Duration
	Call int
	Kind EventKind
}

// Generator yields a scenario's events in time order. It is a pure
// sequence: the same scenario always yields the same events.
type Generator struct {
	s    Scenario
	next [EventsPerCall]int // next call number of each kind
}

// NewGenerator returns a generator at the scenario's first event.
func NewGenerator(s Scenario) *Generator { return &Generator{s: s} }

func (g *Generator) due(k EventKind, call int) time.Duration {
	at := g.s.callStart(call)
	if k >= Started {
		at += g.s.Ring
	}
	if k >= Hangup {
		at += g.s.Talk
	}
	return at
}

// Next returns the next event, or false when the scenario is over. Events
// due at the same time come in call order, and a call's own events always
// in lifecycle order.
func (g *Generator) Next() (ScheduledEvent, bool) {
	calls := g.s.Calls()
	best := -1
	var bestAt time.Duration
	for k := range EventsPerCall {
		call := g.next[k]
		if call >= calls {
			continue
		}
		at := g.due(EventKind(k), call)
		if best < 0 || at < bestAt || (at == bestAt && call < g.next[best]) {
			best, bestAt = k, at
		}
	}
	if best < 0 {
		return ScheduledEvent{}, false
	}
	ev := ScheduledEvent{At: bestAt, Call: g.next[best], Kind: EventKind(best)}
	g.next[best]++
	return ev, true
}

// centreNumber is the contact centre's own number: the called party of
// every inbound call.
const centreNumber = "+61280001000"

// Body returns the webhook body of a scheduled event, stamped with the
// time it is sent. The event id is unique per call and kind, so a resent
// event is recognised as a duplicate.
func (s Scenario) Body(ev ScheduledEvent, now time.Time) []byte {
	c := s.CustomerOf(ev.Call)
	e := interaction.Event{
		ID:      fmt.Sprintf("%s/%s", s.InteractionID(ev.Call), ev.Kind),
		Type:    ev.Kind.eventType(),
		Time:    now.UTC().Truncate(time.Millisecond),
		AgentID: s.AgentOf(ev.Call),
		Interaction: interaction.Interaction{
			AgentInteractionID: s.InteractionID(ev.Call),
			CallType:           interaction.CallInbound,
			Activity: interaction.Activity{
				CustomerCLI:            c.E164,
				SourcePhoneNumber:      c.E164,
				DestinationPhoneNumber: centreNumber,
				QueueName:              "Support",
			},
		},
	}
	body, err := json.Marshal(e)
	if err != nil {
		panic(err) // the event is built from plain strings: cannot fail
	}
	return body
}
